// PNG and PGM image files: every kind ./predict accepts decodes to the right grey values, and every
// malformed or oversized file is refused with a message naming the file and the field.
#include <catch2/catch.hpp>

#include <png.h>

#include <cstring>

#include "src/cli/image_file.hpp"
#include "tests/unit/fixture.hpp"

using namespace mnist;
using testutil::TempDir;

namespace {

std::vector<uint8_t> bytes_of(const std::string& s) { return std::vector<uint8_t>(s.begin(), s.end()); }

// Writes a PNG of the given libpng simplified format (8-bit, or 16-bit linear with PNG_FORMAT_FLAG_LINEAR).
void write_png_format(const std::string& path, int w, int h, png_uint_32 format, const void* pixels) {
    png_image image;
    std::memset(&image, 0, sizeof image);
    image.version = PNG_IMAGE_VERSION;
    image.width = png_uint_32(w);
    image.height = png_uint_32(h);
    image.format = format;
    REQUIRE(png_image_write_to_file(&image, path.c_str(), 0, pixels, 0, nullptr));
}

void require_refused(const std::vector<uint8_t>& bytes, const std::string& text) {
    try {
        parse_pgm(bytes, "digit.pgm");
        FAIL("accepted a malformed PGM; expected: " << text);
    } catch (const ImageError& e) {
        INFO(e.what());
        CHECK(std::string(e.what()).find("digit.pgm") != std::string::npos);
        CHECK(std::string(e.what()).find(text) != std::string::npos);
    }
}

}  // namespace

TEST_CASE("image_file: a binary 8-bit PGM with a comment decodes to its values over maxval", "[image_file]") {
    std::vector<uint8_t> b = bytes_of("P5\n# made by hand\n3 2\n200\n");
    for (uint8_t v : {0, 100, 200, 50, 150, 200}) b.push_back(v);
    const GreyImage img = parse_pgm(b, "x.pgm");
    REQUIRE(img.width == 3);
    REQUIRE(img.height == 2);
    CHECK(img.at(1, 0) == Approx(0.5));
    CHECK(img.at(2, 1) == Approx(1.0));
    CHECK(img.at(0, 1) == Approx(0.25));
}

TEST_CASE("image_file: a 16-bit PGM is read big-endian and a plain (P2) PGM as text", "[image_file]") {
    std::vector<uint8_t> b = bytes_of("P5 2 1 65535\n");
    for (uint8_t v : {0x80, 0x00, 0xff, 0xff}) b.push_back(v);
    const GreyImage wide = parse_pgm(b, "x.pgm");
    CHECK(wide.at(0, 0) == Approx(32768.0 / 65535.0));
    CHECK(wide.at(1, 0) == Approx(1.0));
    const GreyImage plain = parse_pgm(bytes_of("P2\n2 2\n4\n0 1\n2 4\n"), "x.pgm");
    CHECK(plain.at(1, 1) == Approx(1.0));
    CHECK(plain.at(0, 1) == Approx(0.5));
}

TEST_CASE("image_file: a malformed PGM is refused naming the file, the field, expected and found", "[image_file]") {
    require_refused(bytes_of("P6\n1 1\n255\n"), "magic: expected 'P5' or 'P2'");
    require_refused(bytes_of("P5\nx 1\n255\n"), "width: expected a decimal number");
    require_refused(bytes_of("P5\n2 2\n0\n"), "maxval");
    require_refused(bytes_of("P5\n2 2\n70000\n"), "maxval: expected at most 65535, found 70000");
    require_refused(bytes_of("P5\n2 2\n255\nabc"), "pixel data: expected 4 bytes");
    require_refused(bytes_of("P5\n1 1\n255\nab"), "found 2");
    require_refused(bytes_of("P5\n2 2"), "end of the file");
    require_refused(bytes_of("P5\n0 2\n255\n"), "at least 1");
    require_refused(bytes_of("P2\n1 2\n9\n3 10\n"), "pixel 1: expected at most 9, found 10");
    require_refused(bytes_of("P2\n1 1\n9\n3 4\n"), "expected the end of the file");
    std::vector<uint8_t> over = bytes_of("P5 1 1 100\n");
    over.push_back(101);
    require_refused(over, "pixel 0: expected at most maxval 100, found 101");
}

TEST_CASE("image_file: an image larger than the limits is refused before its pixels are allocated", "[image_file]") {
    require_refused(bytes_of("P5\n16384 16384\n255\n"), "at most");
    require_refused(bytes_of("P5\n20000 1\n255\n"), "width: expected at most 16384, found 20000");
    require_refused(bytes_of("P5\n9999999999 1\n255\n"), "width: expected a decimal number");
}

TEST_CASE("image_file: PNG files of every colour type and depth decode to grey", "[image_file]") {
    TempDir tmp;
    const uint8_t grey[4] = {0, 255, 128, 0};
    write_grey_png(tmp / "g.png", 2, 2, grey);
    const GreyImage g = read_image(tmp / "g.png");
    REQUIRE(g.width == 2);
    CHECK(g.at(1, 0) == Approx(1.0));
    CHECK(g.at(0, 1) == Approx(128.0 / 255.0));
    const uint8_t rgb[6] = {255, 255, 255, 0, 0, 0};
    write_png_format(tmp / "rgb.png", 2, 1, PNG_FORMAT_RGB, rgb);
    const GreyImage c = read_image(tmp / "rgb.png");
    CHECK(c.at(0, 0) == Approx(1.0));
    CHECK(c.at(1, 0) == Approx(0.0));
    const uint16_t wide[2] = {0, 65535};
    write_png_format(tmp / "g16.png", 2, 1, PNG_FORMAT_LINEAR_Y, wide);
    const GreyImage w = read_image(tmp / "g16.png");
    CHECK(w.at(0, 0) == Approx(0.0));
    CHECK(w.at(1, 0) == Approx(1.0));
}

TEST_CASE("image_file: transparent PNG pixels take the colour opposite to the ink", "[image_file]") {
    TempDir tmp;
    // Black ink (opaque) on a transparent background: the background becomes white.
    const uint8_t dark[8] = {0, 255, 0, 0, 0, 0, 0, 0};
    write_png_format(tmp / "dark.png", 2, 2, PNG_FORMAT_RGBA & ~PNG_FORMAT_FLAG_COLOR, dark);
    const GreyImage d = read_image(tmp / "dark.png");
    CHECK(d.at(0, 0) == Approx(0.0));
    CHECK(d.at(1, 0) == Approx(1.0));
    // White ink on a transparent background: the background becomes black.
    const uint8_t light[8] = {255, 255, 255, 0, 255, 0, 255, 0};
    write_png_format(tmp / "light.png", 2, 2, PNG_FORMAT_GA, light);
    const GreyImage l = read_image(tmp / "light.png");
    CHECK(l.at(0, 0) == Approx(1.0));
    CHECK(l.at(1, 1) == Approx(0.0));
}

TEST_CASE("image_file: a file that is not an image, empty, damaged or missing is refused naming it", "[image_file]") {
    TempDir tmp;
    testutil::write_bytes(tmp / "notes.txt", bytes_of("hello, not an image"));
    testutil::write_bytes(tmp / "empty.png", {});
    const uint8_t grey[4] = {0, 255, 128, 0};
    write_grey_png(tmp / "ok.png", 2, 2, grey);
    std::vector<uint8_t> cut = testutil::read_bytes(tmp / "ok.png");
    cut.resize(cut.size() - 20);
    testutil::write_bytes(tmp / "cut.png", cut);
    CHECK_THROWS_WITH(read_image(tmp / "notes.txt"), Catch::Contains("notes.txt: not an image"));
    CHECK_THROWS_WITH(read_image(tmp / "empty.png"), Catch::Contains("an empty file"));
    CHECK_THROWS_WITH(read_image(tmp / "cut.png"), Catch::Contains("cut.png"));
    CHECK_THROWS_WITH(read_image(tmp / "missing.png"), Catch::Contains("missing.png: cannot open"));
    CHECK_THROWS_AS(read_image(tmp / "cut.png"), ImageError);
}
