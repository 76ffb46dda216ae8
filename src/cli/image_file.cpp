// PNG and PGM image files (see image_file.hpp).
#include "src/cli/image_file.hpp"

#include <png.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>

namespace mnist {
namespace {

// Largest PGM file read (a P2 file of kMaxImagePixels values of 5 digits is about 100 MB).
constexpr uintmax_t kMaxPgmFileBytes = uintmax_t(128) << 20;

void check_size(int64_t width, int64_t height, const std::string& what) {
    if (width < 1 || height < 1)
        throw ImageError(what + ": width and height must be at least 1, found " + std::to_string(width) + "x" +
                         std::to_string(height));
    if (width > kMaxImageSide || height > kMaxImageSide || width * height > kMaxImagePixels)
        throw ImageError(what + ": the image is " + std::to_string(width) + "x" + std::to_string(height) +
                         " pixels; at most " + std::to_string(kMaxImageSide) + " per side and " +
                         std::to_string(kMaxImagePixels) + " pixels in all are accepted");
}

// Grey + alpha (8-bit each) to grey: transparent parts take the colour opposite to the ink.
GreyImage flatten_alpha(int width, int height, const std::vector<uint8_t>& ga) {
    GreyImage img;
    img.width = width;
    img.height = height;
    const size_t n = size_t(width) * size_t(height);
    double weight = 0, sum = 0;
    bool transparent = false;
    for (size_t i = 0; i < n; ++i) {
        const double a = ga[2 * i + 1] / 255.0;
        weight += a;
        sum += a * ga[2 * i] / 255.0;
        transparent = transparent || ga[2 * i + 1] != 255;
    }
    const float background = transparent && weight > 0 && sum / weight > 0.5 ? 0.0f : 1.0f;
    img.v.resize(n);
    for (size_t i = 0; i < n; ++i) {
        const float a = float(ga[2 * i + 1]) / 255.0f;
        img.v[i] = a * float(ga[2 * i]) / 255.0f + (1.0f - a) * background;
    }
    return img;
}

GreyImage read_png(const std::string& path) {
    png_image image;
    std::memset(&image, 0, sizeof image);
    image.version = PNG_IMAGE_VERSION;
    if (!png_image_begin_read_from_file(&image, path.c_str()))
        throw ImageError(path + ": not a readable PNG: " + image.message);
    std::unique_ptr<png_image, void (*)(png_image*)> guard(&image, [](png_image* i) { png_image_free(i); });
    check_size(int64_t(image.width), int64_t(image.height), path);
    image.format = PNG_FORMAT_GA;
    std::vector<uint8_t> ga(PNG_IMAGE_SIZE(image));
    if (!png_image_finish_read(&image, nullptr, ga.data(), 0, nullptr))
        throw ImageError(path + ": damaged PNG: " + image.message);
    return flatten_alpha(int(image.width), int(image.height), ga);
}

std::vector<uint8_t> read_bounded(const std::string& path, uintmax_t limit) {
    std::error_code ec;
    const uintmax_t size = std::filesystem::file_size(path, ec);
    if (ec) throw ImageError(path + ": cannot read: " + ec.message());
    if (size > limit)
        throw ImageError(path + ": the file is " + std::to_string(size) + " bytes; at most " + std::to_string(limit) +
                         " are read for a PGM image");
    std::ifstream in(path, std::ios::binary);
    std::vector<uint8_t> bytes(size_t(size), 0);
    if (!in || !in.read(reinterpret_cast<char*>(bytes.data()), std::streamsize(size)))
        throw ImageError(path + ": cannot read");
    return bytes;
}

// A cursor over a PGM file's bytes: header tokens (with '#' comments), then the pixels.
struct PgmCursor {
    const std::vector<uint8_t>& b;
    const std::string& what;
    size_t pos = 2;

    static bool space(uint8_t c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; }
    void skip_space(bool comments) {
        while (pos < b.size()) {
            if (space(b[pos])) ++pos;
            else if (comments && b[pos] == '#') while (pos < b.size() && b[pos] != '\n' && b[pos] != '\r') ++pos;
            else break;
        }
    }
    // A decimal number of at most 9 digits, 0..limit; `field` names it in messages.
    int64_t number(const char* field, int64_t limit, bool comments) {
        skip_space(comments);
        if (pos >= b.size())
            throw ImageError(what + ": " + field + ": expected a number, found the end of the file");
        int64_t v = 0;
        size_t digits = 0;
        while (pos < b.size() && b[pos] >= '0' && b[pos] <= '9' && digits < 10) v = v * 10 + (b[pos++] - '0'), ++digits;
        if (digits == 0 || digits > 9 || (pos < b.size() && !space(b[pos]) && b[pos] != '#'))
            throw ImageError(what + ": " + field + ": expected a decimal number, found '" + excerpt(pos - digits) + "'");
        if (v > limit)
            throw ImageError(what + ": " + field + ": expected at most " + std::to_string(limit) + ", found " +
                             std::to_string(v));
        return v;
    }
    std::string excerpt(size_t at) const {
        std::string s;
        for (size_t i = at; i < b.size() && s.size() < 12; ++i) s += (b[i] >= 32 && b[i] < 127) ? char(b[i]) : '?';
        return s;
    }
};

}  // namespace

GreyImage parse_pgm(const std::vector<uint8_t>& b, const std::string& what) {
    if (b.size() < 2 || b[0] != 'P' || (b[1] != '5' && b[1] != '2'))
        throw ImageError(what + ": magic: expected 'P5' or 'P2' (a PGM image), found '" +
                         std::string(b.begin(), b.begin() + std::min<size_t>(2, b.size())) + "'");
    const bool binary = b[1] == '5';
    PgmCursor c{b, what};
    const int64_t width = c.number("width", kMaxImageSide, true);
    const int64_t height = c.number("height", kMaxImageSide, true);
    const int64_t maxval = c.number("maxval", 65535, true);
    if (maxval < 1) throw ImageError(what + ": maxval: expected 1..65535, found 0");
    check_size(width, height, what);
    GreyImage img;
    img.width = int(width);
    img.height = int(height);
    const size_t n = size_t(width) * size_t(height);
    img.v.resize(n);
    if (binary) {
        if (c.pos >= b.size() || !PgmCursor::space(b[c.pos]))
            throw ImageError(what + ": expected one whitespace byte after maxval, found the end of the file");
        ++c.pos;
        const size_t bytes_per = maxval < 256 ? 1 : 2, want = n * bytes_per, have = b.size() - c.pos;
        if (have != want)
            throw ImageError(what + ": pixel data: expected " + std::to_string(want) + " bytes (" + std::to_string(width) +
                             "x" + std::to_string(height) + ", " + std::to_string(bytes_per) + " per pixel), found " +
                             std::to_string(have));
        for (size_t i = 0; i < n; ++i) {
            const uint8_t* p = b.data() + c.pos + i * bytes_per;
            const int64_t v = bytes_per == 1 ? p[0] : (int64_t(p[0]) << 8 | p[1]);
            if (v > maxval)
                throw ImageError(what + ": pixel " + std::to_string(i) + ": expected at most maxval " +
                                 std::to_string(maxval) + ", found " + std::to_string(v));
            img.v[i] = float(double(v) / double(maxval));
        }
        return img;
    }
    for (size_t i = 0; i < n; ++i) {
        const std::string field = "pixel " + std::to_string(i);
        img.v[i] = float(double(c.number(field.c_str(), maxval, false)) / double(maxval));
    }
    c.skip_space(false);
    if (c.pos != b.size())
        throw ImageError(what + ": expected the end of the file after " + std::to_string(n) + " pixel values, found '" +
                         c.excerpt(c.pos) + "'");
    return img;
}

GreyImage read_image(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw ImageError(path + ": cannot open the file");
    char magic[8] = {};
    in.read(magic, sizeof magic);
    const size_t got = size_t(in.gcount());
    static const uint8_t kPng[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    if (got == 8 && std::memcmp(magic, kPng, 8) == 0) return read_png(path);
    if (got >= 2 && magic[0] == 'P' && (magic[1] == '5' || magic[1] == '2')) return parse_pgm(read_bounded(path, kMaxPgmFileBytes), path);
    if (std::filesystem::is_directory(path)) throw ImageError(path + ": is a directory, not an image");
    throw ImageError(path + ": not an image: expected a PNG (starting \\x89PNG) or a PGM (P5 or P2) file, found " +
                     (got == 0 ? std::string("an empty file") : "one starting with other bytes"));
}

void write_grey_png(const std::string& path, int width, int height, const uint8_t* pixels) {
    png_image image;
    std::memset(&image, 0, sizeof image);
    image.version = PNG_IMAGE_VERSION;
    image.width = png_uint_32(width);
    image.height = png_uint_32(height);
    image.format = PNG_FORMAT_GRAY;
    if (!png_image_write_to_file(&image, path.c_str(), 0, pixels, 0, nullptr))
        throw PngError("cannot write '" + path + "': " + image.message);
}

}  // namespace mnist
