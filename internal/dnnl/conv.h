typedef struct ebyd_conv ebyd_conv;
int ebyd_dnnl_init(void);
void ebyd_dnnl_threads(int n);
int ebyd_conv_create(ebyd_conv **out, int n, int ci, int h, int w, int co, int kh, int kw,
	int stride, int pad, int groups, int oh, int ow, int bias);
long ebyd_conv_keep_size(ebyd_conv *c);
int ebyd_conv_forward(ebyd_conv *c, float *x, float *w, float *b, float *y, float *keep);
int ebyd_conv_backward(ebyd_conv *c, float *x, float *w, float *dy, float *dx, float *dw, float *db, float *kept);
