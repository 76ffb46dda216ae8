// The element-wise passes of a training step, on the active kernel path (kernel_path.hpp) like the
// products: dropout with its masks drawn from the counter-based generator (rng.hpp), and a gradient
// through ReLU and dropout. Every path gives the same bits (one division or zero per element; the
// vector paths draw eight Philox blocks at once, the same words as random_block).
#pragma once
#include <cstddef>
#include <cstdint>

namespace mnist {

// x[i] = keep_i ? x[i] / keep : 0 for `count` elements that are elements offset.. of a layer's
// whole batch; element e is kept when uniform01(word) < keep for its word of the stream
// (Stream::dropout, a, b): elements go in groups of 32, element 32g + 8w + l using word w of
// random_block(seed, Stream::dropout, a, b, 8g + l). With `relu` a kept value is also clamped at zero
// (ReLU then dropout in one pass; NaN becomes 0). Runs on the current OpenMP team when count is large.
void dropout_inplace(float* x, size_t count, size_t offset, float keep, bool relu, uint64_t seed, uint32_t a,
                     uint32_t b);

// dh[i] = h[i] > 0 ? dh[i] / keep : 0: a gradient through ReLU and dropout (h > 0 exactly where the
// unit was active and kept).
void through_activation(float* dh, const float* h, size_t count, float keep);

}  // namespace mnist
