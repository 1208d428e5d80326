# Turns a file into a C array so a binary carries it (the default lab).
file(READ ${IN} HEX HEX)
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," BODY "${HEX}")
file(WRITE ${OUT} "/* generated from ${IN}; do not edit */\n#include <stddef.h>\n"
     "const unsigned char vpcfw_default_lab[] = {${BODY} 0x00};\n"
     "const size_t vpcfw_default_lab_len = sizeof(vpcfw_default_lab) - 1;\n")
