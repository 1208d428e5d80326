/*
 * Terraform JSON: recognised here once the reader lands; until then no
 * document is taken for Terraform and these do nothing.
 */
#include "load-private.h"

bool tf_is_document(const json_t *root)
{
	(void)root;
	return false;
}

void tf_load(struct loader *l, const json_t *root)
{
	(void)l;
	(void)root;
}

void tf_finish(struct loader *l)
{
	(void)l;
}

void tf_loader_free(struct loader *l)
{
	(void)l;
}
