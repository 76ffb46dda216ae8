// Labelled image grids and the PNG writer (see png_grid.hpp).
#include "src/cli/png_grid.hpp"

#include <png.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <memory>

namespace mnist {
namespace {

// 3x5 glyphs, one row of 3 bits per entry (bit 2 = left column): digits 0-9, then '>' (index 10).
constexpr uint8_t kGlyphs[11][5] = {
    {7, 5, 5, 5, 7}, {2, 6, 2, 2, 7}, {7, 1, 7, 4, 7}, {7, 1, 7, 1, 7}, {5, 5, 7, 1, 1}, {7, 4, 7, 1, 7},
    {7, 4, 7, 5, 7}, {7, 1, 1, 2, 2}, {7, 5, 7, 5, 7}, {7, 5, 7, 1, 7}, {4, 2, 1, 2, 4},
};
constexpr int kZoom = 2;       // image pixels per data-set pixel
constexpr int kFontScale = 2;  // canvas pixels per font pixel
constexpr int kPad = 4;

void draw_glyph(RgbImage& img, int glyph, int x0, int y0, const uint8_t color[3]) {
    for (int r = 0; r < 5; ++r)
        for (int c = 0; c < 3; ++c)
            if (kGlyphs[glyph][r] & (4 >> c))
                for (int dy = 0; dy < kFontScale; ++dy)
                    for (int dx = 0; dx < kFontScale; ++dx) {
                        uint8_t* p = img.at(x0 + c * kFontScale + dx, y0 + r * kFontScale + dy);
                        std::copy(color, color + 3, p);
                    }
}

}  // namespace

RgbImage labelled_grid(const Dataset& data, const std::vector<uint32_t>& indices,
                       const std::vector<uint8_t>& predicted, size_t max) {
    if (indices.size() != predicted.size()) throw std::invalid_argument("labelled_grid: indices and predictions differ in size");
    const size_t n = std::min(indices.size(), max);
    const int cols = std::max(1, int(std::min<size_t>(n, size_t(std::ceil(std::sqrt(double(n)))))));
    const int rows = std::max(1, int((n + size_t(cols) - 1) / size_t(cols)));
    const int iw = int(data.cols) * kZoom, ih = int(data.rows) * kZoom;
    const int label_h = 5 * kFontScale + kPad;
    const int cell_w = std::max(iw, 3 * 4 * kFontScale) + kPad, cell_h = ih + label_h + kPad;
    RgbImage img;
    img.width = cols * cell_w + kPad;
    img.height = rows * cell_h + kPad;
    img.rgb.assign(size_t(img.width) * size_t(img.height) * 3, 40);  // dark grey background
    const uint8_t green[3] = {80, 230, 80}, red[3] = {255, 80, 80}, white[3] = {230, 230, 230};
    for (size_t k = 0; k < n; ++k) {
        const int x0 = int(k % size_t(cols)) * cell_w + kPad, y0 = int(k / size_t(cols)) * cell_h + kPad;
        const uint8_t* px = data.pixels.data() + size_t(indices[k]) * data.image_size();
        for (int y = 0; y < ih; ++y)
            for (int x = 0; x < iw; ++x) {
                const uint8_t v = px[size_t(y / kZoom) * data.cols + size_t(x / kZoom)];
                uint8_t* p = img.at(x0 + x, y0 + y);
                p[0] = p[1] = p[2] = v;
            }
        const int ly = y0 + ih + kPad / 2, step = 4 * kFontScale;
        draw_glyph(img, data.labels[indices[k]] % 10, x0, ly, green);
        draw_glyph(img, 10, x0 + step, ly, white);
        draw_glyph(img, predicted[k] % 10, x0 + 2 * step, ly, red);
    }
    return img;
}

void write_png(const std::string& path, const RgbImage& image) {
    std::unique_ptr<std::FILE, int (*)(std::FILE*)> f(std::fopen(path.c_str(), "wb"), &std::fclose);
    if (!f) throw PngError("cannot create '" + path + "'");
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, nullptr, nullptr, nullptr);
    png_infop info = png ? png_create_info_struct(png) : nullptr;
    if (png == nullptr || info == nullptr) {
        png_destroy_write_struct(&png, nullptr);
        throw PngError("cannot write '" + path + "': out of memory");
    }
    if (setjmp(png_jmpbuf(png))) {  // libpng reports errors by longjmp; nothing with a destructor lives here
        png_destroy_write_struct(&png, &info);
        throw PngError("cannot write '" + path + "': libpng failed (disk full?)");
    }
    png_init_io(png, f.get());
    png_set_IHDR(png, info, png_uint_32(image.width), png_uint_32(image.height), 8, PNG_COLOR_TYPE_RGB,
                 PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    for (int y = 0; y < image.height; ++y)
        png_write_row(png, image.rgb.data() + size_t(y) * size_t(image.width) * 3);
    png_write_end(png, nullptr);
    png_destroy_write_struct(&png, &info);
    if (std::fflush(f.get()) != 0 || std::ferror(f.get())) throw PngError("cannot write '" + path + "'");
}

}  // namespace mnist
