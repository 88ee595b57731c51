//go:build cgo && !purego && !nodnnl

// Convolution primitives of oneDNN (Debian libdnnl-dev) behind a small C API
// for package dnnl. Tensors cross this boundary in PyTorch's plain layouts
// (NCHW activations, OIHW / GOIHW weights); each primitive works in the
// blocked layout oneDNN prefers, with reorders in between.
//
// Calls are serialised by the Go side, so every convolution shares one set of
// work buffers (the blocked copies and the scratchpads), grown to the largest
// size needed: a network needs a few activations' worth, not six copies of
// every layer's activations.
#include <stdlib.h>
#include <string.h>
#include <oneapi/dnnl/dnnl.h>
#include <omp.h>
#include "conv.h"

static dnnl_engine_t eng;
static dnnl_stream_t strm;
static dnnl_primitive_attr_t attr;
static int threads = 1;

enum { S0, S1, S2, W0, W1, SCRATCH, NSLOTS };
static void *slot[NSLOTS];
static size_t slotSize[NSLOTS];

static void *slotGet(int i, size_t n) {
	if (slotSize[i] < n) {
		free(slot[i]);
		slot[i] = aligned_alloc(64, (n + 63) / 64 * 64);
		slotSize[i] = slot[i] ? n : 0;
	}
	return slot[i];
}

// oneDNN's OpenMP team size is a per-thread setting and Go makes its C calls
// from whichever thread is free, so every entry point sets it again.
static void team(void) { omp_set_num_threads(threads); }

void ebyd_dnnl_threads(int n) { threads = n > 0 ? n : 1; }

int ebyd_dnnl_init(void) {
	if (dnnl_engine_create(&eng, dnnl_cpu, 0) != dnnl_success) return 1;
	if (dnnl_stream_create(&strm, eng, dnnl_stream_default_flags) != dnnl_success) return 2;
	// Scratchpads are passed in by us. oneDNN's default keeps one scratchpad
	// per calling thread, set up on the thread that created the primitive; Go
	// runs C calls on whichever thread is free, so that default hands kernels
	// a missing buffer.
	if (dnnl_primitive_attr_create(&attr) != dnnl_success) return 3;
	if (dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user) != dnnl_success) return 4;
	return 0;
}

// A primitive and the size of the scratchpad it needs.
typedef struct {
	dnnl_primitive_t p;
	dnnl_memory_t scratch; // handle set to the shared slot at run time
} prim_t;

#define CHECK(x) do { if ((x) != dnnl_success) return -__LINE__; } while (0)

static int makePrim(dnnl_primitive_desc_t pd, prim_t *pr) {
	CHECK(dnnl_primitive_create(&pr->p, pd));
	pr->scratch = NULL;
	const dnnl_memory_desc_t *md = dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0);
	if (md && dnnl_memory_desc_get_size(md) > 0) {
		CHECK(dnnl_memory_create(&pr->scratch, md, eng, DNNL_MEMORY_NONE));
	}
	return 0;
}

// execPrim runs pr with args plus its scratchpad; args must have room for one
// more entry.
static int execPrim(prim_t *pr, int n, dnnl_exec_arg_t *args) {
	if (pr->scratch) {
		const dnnl_memory_desc_t *md;
		CHECK(dnnl_memory_get_memory_desc(pr->scratch, &md));
		void *buf = slotGet(SCRATCH, dnnl_memory_desc_get_size(md));
		if (!buf) return -__LINE__;
		CHECK(dnnl_memory_set_data_handle(pr->scratch, buf));
		args[n].arg = DNNL_ARG_SCRATCHPAD;
		args[n].memory = pr->scratch;
		n++;
	}
	CHECK(dnnl_primitive_execute(pr->p, strm, n, args));
	return 0;
}

// A primitive-side memory, the slot backing it and the reorder linking it to
// the user memory (reorder.p NULL when the layouts agree and the primitive
// uses the user memory itself).
typedef struct {
	dnnl_memory_t mem;
	int slot;
	size_t size;
	prim_t reorder;
} link_t;

static int makeLink(const dnnl_memory_desc_t *want, dnnl_memory_t user, int toUser, int slotID, link_t *l) {
	const dnnl_memory_desc_t *have;
	CHECK(dnnl_memory_get_memory_desc(user, &have));
	l->reorder.p = NULL;
	l->slot = slotID;
	l->size = 0;
	if (dnnl_memory_desc_equal(want, have)) {
		l->mem = user;
		return 0;
	}
	l->size = dnnl_memory_desc_get_size(want);
	CHECK(dnnl_memory_create(&l->mem, want, eng, DNNL_MEMORY_NONE));
	dnnl_primitive_desc_t rpd;
	if (toUser) {
		CHECK(dnnl_reorder_primitive_desc_create(&rpd, want, eng, have, eng, attr));
	} else {
		CHECK(dnnl_reorder_primitive_desc_create(&rpd, have, eng, want, eng, attr));
	}
	int rc = makePrim(rpd, &l->reorder);
	dnnl_primitive_desc_destroy(rpd);
	return rc;
}

// bind points a link's primitive-side memory at its slot.
static int bind(link_t *l) {
	if (!l->reorder.p) return 0;
	void *buf = slotGet(l->slot, l->size);
	if (!buf) return -__LINE__;
	CHECK(dnnl_memory_set_data_handle(l->mem, buf));
	return 0;
}

static int runReorder(link_t *l, dnnl_memory_t user, int toUser) {
	if (!l->reorder.p) return 0;
	dnnl_exec_arg_t args[3] = {
		{DNNL_ARG_FROM, toUser ? l->mem : user},
		{DNNL_ARG_TO, toUser ? user : l->mem},
	};
	return execPrim(&l->reorder, 2, args);
}

// bindIn binds l and reorders the user memory into it.
static int bindIn(link_t *l, dnnl_memory_t user) {
	int rc = bind(l);
	return rc ? rc : runReorder(l, user, 0);
}

struct ebyd_conv {
	dnnl_memory_desc_t src_md, wei_md, bia_md, dst_md; // user (plain) descriptors
	dnnl_memory_t u_src, u_wei, u_bia, u_dst, u_dsrc, u_ddst, u_dwei, u_dbia;

	prim_t fwd;
	link_t f_src, f_wei, f_dst;

	prim_t bwdd;
	link_t d_ddst, d_wei, d_dsrc;

	prim_t bwdw;
	link_t w_src, w_ddst, w_dwei;
	int shareDdst; // bwd-weights wants diff_dst in the layout bwd-data already made
	long keep;     // bytes of the forward's reordered input that bwd-weights can reuse (0: none)
};

int ebyd_conv_create(ebyd_conv **out, int n, int ci, int h, int w, int co, int kh, int kw,
		int stride, int pad, int groups, int oh, int ow, int bias) {
	team();
	ebyd_conv *c = calloc(1, sizeof *c);
	if (!c) return -__LINE__;
	dnnl_dims_t sd = {n, ci, h, w}, dd = {n, co, oh, ow}, bd = {co};
	CHECK(dnnl_memory_desc_init_by_tag(&c->src_md, 4, sd, dnnl_f32, dnnl_nchw));
	CHECK(dnnl_memory_desc_init_by_tag(&c->dst_md, 4, dd, dnnl_f32, dnnl_nchw));
	CHECK(dnnl_memory_desc_init_by_tag(&c->bia_md, 1, bd, dnnl_f32, dnnl_x));
	dnnl_memory_desc_t a_src, a_wei, a_dst;
	CHECK(dnnl_memory_desc_init_by_tag(&a_src, 4, sd, dnnl_f32, dnnl_format_tag_any));
	CHECK(dnnl_memory_desc_init_by_tag(&a_dst, 4, dd, dnnl_f32, dnnl_format_tag_any));
	if (groups == 1) {
		dnnl_dims_t wd = {co, ci, kh, kw};
		CHECK(dnnl_memory_desc_init_by_tag(&c->wei_md, 4, wd, dnnl_f32, dnnl_oihw));
		CHECK(dnnl_memory_desc_init_by_tag(&a_wei, 4, wd, dnnl_f32, dnnl_format_tag_any));
	} else {
		dnnl_dims_t wd = {groups, co / groups, ci / groups, kh, kw};
		CHECK(dnnl_memory_desc_init_by_tag(&c->wei_md, 5, wd, dnnl_f32, dnnl_goihw));
		CHECK(dnnl_memory_desc_init_by_tag(&a_wei, 5, wd, dnnl_f32, dnnl_format_tag_any));
	}
	dnnl_memory_t *users[] = {&c->u_src, &c->u_dsrc, &c->u_wei, &c->u_dwei, &c->u_dst, &c->u_ddst, &c->u_bia, &c->u_dbia};
	const dnnl_memory_desc_t *mds[] = {&c->src_md, &c->src_md, &c->wei_md, &c->wei_md, &c->dst_md, &c->dst_md, &c->bia_md, &c->bia_md};
	for (int i = 0; i < 8; i++) CHECK(dnnl_memory_create(users[i], mds[i], eng, DNNL_MEMORY_NONE));

	// Symmetric padding as PyTorch passes it; oneDNN, like PyTorch, floors the
	// output size, so windows past the last full one are dropped.
	dnnl_dims_t st = {stride, stride}, pl = {pad, pad}, pr = {pad, pad};
	int rc;

	dnnl_convolution_desc_t fd;
	CHECK(dnnl_convolution_forward_desc_init(&fd, dnnl_forward_training, dnnl_convolution_direct,
		&a_src, &a_wei, bias ? &c->bia_md : NULL, &a_dst, st, pl, pr));
	dnnl_primitive_desc_t fpd;
	CHECK(dnnl_primitive_desc_create(&fpd, &fd, attr, eng, NULL));
	if ((rc = makePrim(fpd, &c->fwd)) ||
		(rc = makeLink(dnnl_primitive_desc_query_md(fpd, dnnl_query_src_md, 0), c->u_src, 0, S0, &c->f_src)) ||
		(rc = makeLink(dnnl_primitive_desc_query_md(fpd, dnnl_query_weights_md, 0), c->u_wei, 0, W0, &c->f_wei)) ||
		(rc = makeLink(dnnl_primitive_desc_query_md(fpd, dnnl_query_dst_md, 0), c->u_dst, 1, S1, &c->f_dst)))
		return rc;

	dnnl_convolution_desc_t bdd;
	CHECK(dnnl_convolution_backward_data_desc_init(&bdd, dnnl_convolution_direct, &a_src, &a_wei, &a_dst, st, pl, pr));
	dnnl_primitive_desc_t dpd;
	CHECK(dnnl_primitive_desc_create(&dpd, &bdd, attr, eng, fpd));
	if ((rc = makePrim(dpd, &c->bwdd)) ||
		(rc = makeLink(dnnl_primitive_desc_query_md(dpd, dnnl_query_diff_dst_md, 0), c->u_ddst, 0, S0, &c->d_ddst)) ||
		(rc = makeLink(dnnl_primitive_desc_query_md(dpd, dnnl_query_weights_md, 0), c->u_wei, 0, W0, &c->d_wei)) ||
		(rc = makeLink(dnnl_primitive_desc_query_md(dpd, dnnl_query_diff_src_md, 0), c->u_dsrc, 1, S1, &c->d_dsrc)))
		return rc;

	dnnl_convolution_desc_t bwd;
	CHECK(dnnl_convolution_backward_weights_desc_init(&bwd, dnnl_convolution_direct, &a_src, &a_wei,
		bias ? &c->bia_md : NULL, &a_dst, st, pl, pr));
	dnnl_primitive_desc_t wpd;
	CHECK(dnnl_primitive_desc_create(&wpd, &bwd, attr, eng, fpd));
	const dnnl_memory_desc_t *wdd = dnnl_primitive_desc_query_md(wpd, dnnl_query_diff_dst_md, 0);
	c->shareDdst = dnnl_memory_desc_equal(wdd, dnnl_primitive_desc_query_md(dpd, dnnl_query_diff_dst_md, 0));
	if ((rc = makePrim(wpd, &c->bwdw)) ||
		(rc = makeLink(dnnl_primitive_desc_query_md(wpd, dnnl_query_src_md, 0), c->u_src, 0, S1, &c->w_src)) ||
		(rc = makeLink(wdd, c->u_ddst, 0, c->shareDdst ? S0 : S2, &c->w_ddst)) ||
		(rc = makeLink(dnnl_primitive_desc_query_md(wpd, dnnl_query_diff_weights_md, 0), c->u_dwei, 1, W1, &c->w_dwei)))
		return rc;

	c->keep = 0;
	if (c->f_src.reorder.p && c->w_src.reorder.p &&
		dnnl_memory_desc_equal(dnnl_primitive_desc_query_md(fpd, dnnl_query_src_md, 0),
			dnnl_primitive_desc_query_md(wpd, dnnl_query_src_md, 0)))
		c->keep = (long)c->f_src.size;

	dnnl_primitive_desc_destroy(fpd);
	dnnl_primitive_desc_destroy(dpd);
	dnnl_primitive_desc_destroy(wpd);
	*out = c;
	return 0;
}

long ebyd_conv_keep_size(ebyd_conv *c) { return c->keep; }

// ebyd_conv_forward computes y; when keep is not NULL (ebyd_conv_keep_size
// bytes) the input is reordered into it, for ebyd_conv_backward to reuse.
int ebyd_conv_forward(ebyd_conv *c, float *x, float *w, float *b, float *y, float *keep) {
	team();
	int rc;
	CHECK(dnnl_memory_set_data_handle(c->u_src, x));
	CHECK(dnnl_memory_set_data_handle(c->u_wei, w));
	CHECK(dnnl_memory_set_data_handle(c->u_dst, y));
	if (keep && c->keep) {
		CHECK(dnnl_memory_set_data_handle(c->f_src.mem, keep));
		if ((rc = runReorder(&c->f_src, c->u_src, 0))) return rc;
	} else if ((rc = bindIn(&c->f_src, c->u_src))) {
		return rc;
	}
	if ((rc = bindIn(&c->f_wei, c->u_wei)) || (rc = bind(&c->f_dst))) return rc;
	dnnl_exec_arg_t args[5] = {
		{DNNL_ARG_SRC, c->f_src.mem}, {DNNL_ARG_WEIGHTS, c->f_wei.mem}, {DNNL_ARG_DST, c->f_dst.mem}, {DNNL_ARG_BIAS, c->u_bia}};
	int nargs = 3;
	if (b) {
		CHECK(dnnl_memory_set_data_handle(c->u_bia, b));
		nargs = 4;
	}
	if ((rc = execPrim(&c->fwd, nargs, args)) || (rc = runReorder(&c->f_dst, c->u_dst, 1))) return rc;
	CHECK(dnnl_stream_wait(strm));
	return 0;
}

// ebyd_conv_backward computes whichever of dx (input gradient), dw and db
// (weight and bias gradients) are not NULL, reordering dy once for both
// when the two primitives agree on its layout, and taking the reordered input
// from kept (filled by ebyd_conv_forward) when it is not NULL.
int ebyd_conv_backward(ebyd_conv *c, float *x, float *w, float *dy, float *dx, float *dw, float *db, float *kept) {
	team();
	int rc;
	CHECK(dnnl_memory_set_data_handle(c->u_ddst, dy));
	int haveDdst = 0; // d_ddst's slot holds dy in bwd-data's layout
	if (dx) {
		CHECK(dnnl_memory_set_data_handle(c->u_wei, w));
		CHECK(dnnl_memory_set_data_handle(c->u_dsrc, dx));
		if ((rc = bindIn(&c->d_ddst, c->u_ddst)) || (rc = bindIn(&c->d_wei, c->u_wei)) || (rc = bind(&c->d_dsrc))) return rc;
		dnnl_exec_arg_t args[4] = {{DNNL_ARG_DIFF_DST, c->d_ddst.mem}, {DNNL_ARG_WEIGHTS, c->d_wei.mem}, {DNNL_ARG_DIFF_SRC, c->d_dsrc.mem}};
		if ((rc = execPrim(&c->bwdd, 3, args)) || (rc = runReorder(&c->d_dsrc, c->u_dsrc, 1))) return rc;
		haveDdst = 1;
	}
	if (dw) {
		CHECK(dnnl_memory_set_data_handle(c->u_src, x));
		CHECK(dnnl_memory_set_data_handle(c->u_dwei, dw));
		if (kept && c->keep) {
			CHECK(dnnl_memory_set_data_handle(c->w_src.mem, kept));
		} else if ((rc = bindIn(&c->w_src, c->u_src))) {
			return rc;
		}
		if ((rc = bind(&c->w_dwei))) return rc;
		if (c->shareDdst && haveDdst) {
			if ((rc = bind(&c->w_ddst))) return rc; // same slot, already filled
		} else if ((rc = bindIn(&c->w_ddst, c->u_ddst))) {
			return rc;
		}
		dnnl_exec_arg_t args[5] = {{DNNL_ARG_SRC, c->w_src.mem}, {DNNL_ARG_DIFF_DST, c->w_ddst.mem},
			{DNNL_ARG_DIFF_WEIGHTS, c->w_dwei.mem}, {DNNL_ARG_DIFF_BIAS, c->u_dbia}};
		int nargs = 3;
		if (db) {
			CHECK(dnnl_memory_set_data_handle(c->u_dbia, db));
			nargs = 4;
		}
		if ((rc = execPrim(&c->bwdw, nargs, args)) || (rc = runReorder(&c->w_dwei, c->u_dwei, 1))) return rc;
	}
	CHECK(dnnl_stream_wait(strm));
	return 0;
}
