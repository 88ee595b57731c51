void ebyd_relu(float *dst, const float *src, long n);
void ebyd_relu_grad(float *dst, const float *g, const float *y, long n);
void ebyd_add(float *dst, const float *a, const float *b, long n);
double ebyd_ch_sum(const float *x, long n, long stride, long hw);
double ebyd_ch_sum_sq_dev(const float *x, long n, long stride, long hw, float m);
void ebyd_ch_dot_dev(const float *g, const float *mask, const float *x, long n, long stride, long hw, float m, double *sg, double *sgx);
void ebyd_ch_affine(float *dst, const float *x, const float *mask, int relu, long n, long stride, long hw, float m, float scale, float shift);
void ebyd_ch_bn_grad(float *dst, const float *g, const float *mask, const float *x, long n, long stride, long hw, float m, float is, float k, float mdy, float mdyx);
void ebyd_sgd(float *w, const float *g, float *buf, long n, float lr, float mom, float wd, int nesterov, int started);
