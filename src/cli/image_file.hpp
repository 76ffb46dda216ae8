// Image files a person gives ./predict: PNG (grey, grey+alpha, RGB, RGBA, palette; 8 or 16 bit;
// read with libpng) and PGM (P5 binary or P2 text, maxval up to 65535; a strict reader: libnetpbm
// is not in every Debian install and ends the process on a malformed file). Both become one grey
// plane of floats in [0, 1] (0 black). Sizes are checked before anything is allocated.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "src/errors.hpp"

namespace mnist {

struct GreyImage {
    int width = 0, height = 0;
    std::vector<float> v;  // row after row, 0 = black, 1 = white
    float at(int x, int y) const { return v[size_t(y) * size_t(width) + size_t(x)]; }
};

// Largest image accepted, per side and in pixels (a 16-bit PGM of this size is 32 MB).
constexpr int kMaxImageSide = 16384;
constexpr int64_t kMaxImagePixels = int64_t(4096) * 4096;

// Reads a PNG or PGM file, told apart by its first bytes. Transparent pixels of a PNG with alpha
// are laid on the colour opposite to its opaque pixels' mean (a dark digit on a transparent
// background becomes dark on white; a light one, light on black).
// throws ImageError naming path: unreadable, neither PNG nor PGM, malformed, empty or too large.
GreyImage read_image(const std::string& path);

// A PGM file's bytes (P5 or P2) to an image; `what` names the file in messages.
// throws ImageError naming what, the field, what was expected and what was found.
GreyImage parse_pgm(const std::vector<uint8_t>& bytes, const std::string& what);

// Writes an 8-bit grey PNG of width x height bytes (0 black). throws PngError naming path.
void write_grey_png(const std::string& path, int width, int height, const uint8_t* pixels);

}  // namespace mnist
