void ebyd_relu(float *dst, const float *src, long n);
void ebyd_relu_grad(float *dst, const float *g, const float *y, long n);
void ebyd_add(float *dst, const float *a, const float *b, long n);
float ebyd_sum(const float *x, long n);
float ebyd_sum_sq_dev(const float *x, long n, float m);
void ebyd_dot_dev(const float *g, const float *x, long n, float m, float *sg, float *sgx);
void ebyd_affine(float *dst, const float *x, long n, float m, float scale, float shift);
void ebyd_bn_grad(float *dst, const float *g, const float *x, long n, float m, float is, float k, float mdy, float mdyx);
void ebyd_sgd(float *w, const float *g, float *buf, long n, float lr, float mom, float wd, int nesterov, int started);
