package blas

import "fmt"

// Sgemm computes C = alpha·op(A)·op(B) + beta·C for row-major matrices, where
// op(X) is X or its transpose. op(A) is m×k, op(B) is k×n and C is m×n;
// lda, ldb and ldc are the row strides of A, B and C as stored.
func Sgemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int,
	b []float32, ldb int, beta float32, c []float32, ldc int) {
	if m == 0 || n == 0 {
		return
	}
	check(transA, m, k, a, lda, "A")
	check(transB, k, n, b, ldb, "B")
	check(false, m, n, c, ldc, "C")
	if k == 0 {
		scale(m, n, beta, c, ldc)
		return
	}
	sgemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// check panics with a clear message when a buffer is too small for the
// matrix it is said to hold: a wrong size here is a programming error that
// would otherwise read or write out of bounds in C.
func check(trans bool, rows, cols int, x []float32, ld int, name string) {
	if trans {
		rows, cols = cols, rows
	}
	if ld < cols || ld < 1 {
		panic(fmt.Sprintf("blas: ld%s=%d < %d columns", name, ld, cols))
	}
	if need := (rows-1)*ld + cols; len(x) < need {
		panic(fmt.Sprintf("blas: %s has %d elements, needs %d for %dx%d with ld %d", name, len(x), need, rows, cols, ld))
	}
}

func scale(m, n int, beta float32, c []float32, ldc int) {
	for i := 0; i < m; i++ {
		row := c[i*ldc : i*ldc+n]
		for j := range row {
			if beta == 0 {
				row[j] = 0
			} else {
				row[j] *= beta
			}
		}
	}
}
