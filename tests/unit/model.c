/*
 * model.c - unit tests of the model file: a round trip keeps every byte,
 * the same model gives the same file, and each kind of damage (a flipped
 * data byte, a wrong shape, a missing tensor, a stream that is not a model)
 * is caught with a message that names the tensor.
 */
#include "sluice.h"
#include "tap.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char dir[] = "/tmp/sluice-model-test.XXXXXX";

static char *path(const char *name)
{
	static char buf[4][256];
	static int k;
	k = (k + 1) % 4;
	snprintf(buf[k], sizeof buf[k], "%s/%s", dir, name);
	return buf[k];
}

static void make_params(struct sl_params *P)
{
	int s2[2] = {3, 4}, s1[1] = {3};

	memset(P, 0, sizeof *P);
	sl_params_add(P, "fc1.w", 1, 2, s2);
	sl_params_add(P, "fc1.b", 0, 1, s1);
	sl_params_alloc(P);
	for (size_t i = 0; i < P->n; i++) {
		P->data[i] = (float)i * 0.25f - 1.0f;
		P->m[i] = (float)i;
	}
}

static int read_file(const char *p, struct sl_buf *b)
{
	FILE *f = fopen(p, "rb");
	char tmp[4096];
	size_t k;

	if (!f)
		return -1;
	b->n = 0;
	while ((k = fread(tmp, 1, sizeof tmp, f)) > 0)
		sl_buf_put(b, tmp, k);
	fclose(f);
	return 0;
}

static char *find_bytes(char *hay, size_t n, const void *needle, size_t k)
{
	for (size_t i = 0; i + k <= n; i++)
		if (memcmp(hay + i, needle, k) == 0)
			return hay + i;
	return NULL;
}

static void write_file(const char *p, const struct sl_buf *b)
{
	FILE *f = fopen(p, "wb");
	fwrite(b->p, 1, b->n, f);
	fclose(f);
}

int main(void)
{
	struct sl_wopts wo = {0, 1};
	struct sl_params P, Q;
	struct sl_model m, back;
	struct sl_buf a = {0}, b = {0};
	char err[512] = "";
	int s2[2] = {4, 3};
	float *blk;

	sl_init("model-test");
	if (!mkdtemp(dir))
		return 1;
	make_params(&P);
	sl_model_init(&m);
	sl_val_set(&m.h->meta, "model", sl_val_str("test"));
	sl_model_add_params(&m, &P, P.data, NULL);
	sl_model_add_params(&m, &P, P.m, "opt.m.");

	ok(sl_model_write(&m, path("a.sl"), &wo, err, sizeof err) == 0, "write: %s", err);
	ok(sl_model_write(&m, path("b.sl"), &wo, err, sizeof err) == 0, "write again");
	read_file(path("a.sl"), &a);
	read_file(path("b.sl"), &b);
	ok(a.n == b.n && memcmp(a.p, b.p, a.n) == 0, "same model, same bytes");

	ok(sl_model_read(&back, path("a.sl"), err, sizeof err) == 0, "read: %s", err);
	is_int(back.count, 4, "four tensors");
	is_str(back.t[0].name, "fc1.w", "first tensor in the order added");
	is_str(back.t[2].name, "opt.m.fc1.w", "prefixed names");
	ok(back.t[0].ndim == 2 && back.t[0].shape[0] == 3 && back.t[0].shape[1] == 4,
	   "shape kept");
	ok(memcmp(back.t[1].data, P.data + P.t[1].off, 3 * sizeof(float)) == 0,
	   "values kept bit for bit");
	ok(sl_val_get(&back.h->meta, "model") &&
	   strcmp(sl_val_get(&back.h->meta, "model")->u.s, "test") == 0,
	   "metadata kept");
	ok(strcmp(sl_val_get(&back.h->meta, "state")->u.s, "sluice-model") == 0,
	   "state marker first");

	/* fill a fresh parameter block by name */
	make_params(&Q);
	memset(Q.data, 0, Q.n * sizeof *Q.data);
	ok(sl_model_get_params(&back, &Q, Q.data, NULL, "a.sl", err, sizeof err) == 0 &&
	   memcmp(Q.data, P.data, P.n * sizeof *P.data) == 0, "params filled by name");
	ok(sl_model_get_params(&back, &Q, Q.v, "opt.m.", "a.sl", err, sizeof err) == 0 &&
	   memcmp(Q.v, P.m, P.n * sizeof *P.m) == 0, "prefixed tensors into another block");
	ok(sl_model_get_params(&back, &Q, Q.v, "best.", "a.sl", err, sizeof err) < 0 &&
	   strstr(err, "tensor \"best.fc1.w\" is missing"), "missing tensor named: %s", err);
	sl_params_free(&Q);
	memset(&Q, 0, sizeof Q);
	sl_params_add(&Q, "fc1.w", 1, 2, s2);
	sl_params_alloc(&Q);
	ok(sl_model_get_params(&back, &Q, Q.data, NULL, "a.sl", err, sizeof err) < 0 &&
	   strstr(err, "tensor \"fc1.w\" has shape (3,4), the model needs (4,3)"),
	   "shape mismatch named: %s", err);
	sl_params_free(&Q);
	sl_model_free(&back);

	/* flip one byte of fc1.b's data: the checksum catches it */
	blk = P.data + P.t[1].off;
	{
		char *at = find_bytes(a.p, a.n, blk, 3 * sizeof(float));
		ok(at != NULL, "found the data bytes in the file");
		if (at) {
			at[5] ^= 0x40;
			write_file(path("bad.sl"), &a);
			ok(sl_model_read(&back, path("bad.sl"), err, sizeof err) < 0 &&
			   strstr(err, "record 2: tensor \"fc1.b\": checksum mismatch"),
			   "corruption caught and named: %s", err);
			sl_model_free(&back);
			at[5] ^= 0x40;
		}
	}
	/* a truncated file */
	b.n = a.n - 7;
	write_file(path("short.sl"), &b);
	ok(sl_model_read(&back, path("short.sl"), err, sizeof err) < 0 && strstr(err, "short.sl"),
	   "truncated file rejected: %s", err);
	sl_model_free(&back);
	/* not a model */
	{
		struct sl_wopts wo = {0, 1};
		struct sl_writer *w = sl_writer_open(path("other.sl"), &wo);
		struct sl_header *h = sl_header_new();
		struct sl_type ti = {SL_INT, 0, 0};
		sl_header_add(h, "x", ti);
		sl_write_header(w, h);
		sl_writer_close(w, NULL);
		sl_header_free(h);
		ok(sl_model_read(&back, path("other.sl"), err, sizeof err) < 0 &&
		   strstr(err, "not a sluice model"), "not a model: %s", err);
		sl_model_free(&back);
	}
	ok(sl_model_read(&back, path("none.sl"), err, sizeof err) < 0 &&
	   strstr(err, "none.sl"), "missing file: %s", err);
	sl_model_free(&back);

	ok(sl_model_crc32((const float *)"\0\0\0\0", 1) == 0x2144df1cu,
	   "crc32 of four zero bytes is zlib's");

	sl_model_free(&m);
	sl_params_free(&P);
	sl_buf_free(&a);
	sl_buf_free(&b);
	{
		char cmd[300];
		snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
		if (system(cmd) != 0)
			return 1;
	}
	return done_testing();
}
