// Tests for data_loader/idx: tiny IDX files written into a fresh temporary directory, read back raw
// and gzip-compressed, and every way a file can be wrong, each checked for a message that names the
// file and says what was expected and what was found.
#include "data_loader/idx.hpp"

#include <catch2/catch.hpp>
#include <zlib.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

using Catch::Matchers::Contains;
using mnist::IdxError;
using mnist::read_idx_images;
using mnist::read_idx_labels;

namespace {

namespace fs = std::filesystem;
using Bytes = std::vector<uint8_t>;

// A fresh directory under the system temp dir, removed with everything in it at scope exit.
struct TempDir {
    fs::path path;
    TempDir() {
        std::random_device rd;
        path = fs::temp_directory_path() / ("idx_test_" + std::to_string(rd()) + std::to_string(rd()));
        fs::create_directories(path);
    }
    ~TempDir() {
        std::error_code ec;
        fs::remove_all(path, ec);
    }
    std::string file(const std::string& name) const { return (path / name).string(); }
};

void put_be32(Bytes& b, uint32_t v) {
    for (int s = 24; s >= 0; s -= 8) b.push_back(uint8_t(v >> s));
}

Bytes image_file(uint32_t count, uint32_t rows, uint32_t cols, const Bytes& pixels, uint32_t magic = 2051) {
    Bytes b;
    put_be32(b, magic);
    put_be32(b, count);
    put_be32(b, rows);
    put_be32(b, cols);
    b.insert(b.end(), pixels.begin(), pixels.end());
    return b;
}

Bytes label_file(uint32_t count, const Bytes& labels, uint32_t magic = 2049) {
    Bytes b;
    put_be32(b, magic);
    put_be32(b, count);
    b.insert(b.end(), labels.begin(), labels.end());
    return b;
}

void write_raw(const std::string& path, const Bytes& b) {
    std::ofstream f(path, std::ios::binary);
    f.write(reinterpret_cast<const char*>(b.data()), std::streamsize(b.size()));
    REQUIRE(f.good());
}

void write_gz(const std::string& path, const Bytes& b, const char* mode = "wb") {
    gzFile g = gzopen(path.c_str(), mode);
    REQUIRE(g != nullptr);
    REQUIRE(gzwrite(g, b.data(), unsigned(b.size())) == int(b.size()));
    REQUIRE(gzclose(g) == Z_OK);
}

Bytes read_back(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    return Bytes(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
}

// 3 images of 2x4: pixel j of image i is 10*i + j, plus the extremes 0 and 255.
const Bytes kPixels = {0,  1,  2,  3,  4,  5,  6,  7,    //
                       10, 11, 12, 13, 14, 15, 16, 17,   //
                       20, 21, 22, 23, 24, 25, 26, 255};
const Bytes kLabels = {7, 0, 9};

}  // namespace

TEST_CASE("idx: reads a raw image file with its dimensions and pixels in order", "[idx]") {
    TempDir t;
    write_raw(t.file("img"), image_file(3, 2, 4, kPixels));
    const mnist::IdxImages im = read_idx_images(t.file("img"));
    CHECK(im.count == 3);
    CHECK(im.rows == 2);
    CHECK(im.cols == 4);
    CHECK(im.pixels == kPixels);
}

TEST_CASE("idx: reads a raw label file", "[idx]") {
    TempDir t;
    write_raw(t.file("lab"), label_file(3, kLabels));
    CHECK(read_idx_labels(t.file("lab")) == kLabels);
}

TEST_CASE("idx: reads gzip-compressed image and label files, detected by content not by name", "[idx]") {
    TempDir t;
    write_gz(t.file("img.gz"), image_file(3, 2, 4, kPixels));
    write_gz(t.file("lab"), label_file(3, kLabels));  // no .gz suffix: detection is by the 0x1f 0x8b magic
    const mnist::IdxImages im = read_idx_images(t.file("img.gz"));
    CHECK(im.count == 3);
    CHECK(im.rows == 2);
    CHECK(im.cols == 4);
    CHECK(im.pixels == kPixels);
    CHECK(read_idx_labels(t.file("lab")) == kLabels);
}

TEST_CASE("idx: reads a gzip file made of two concatenated gzip members", "[idx]") {
    TempDir t;
    const Bytes whole = label_file(3, kLabels);
    write_gz(t.file("a.gz"), Bytes(whole.begin(), whole.begin() + 5));
    write_gz(t.file("b.gz"), Bytes(whole.begin() + 5, whole.end()));
    Bytes cat = read_back(t.file("a.gz"));
    const Bytes b = read_back(t.file("b.gz"));
    cat.insert(cat.end(), b.begin(), b.end());
    write_raw(t.file("lab.gz"), cat);
    CHECK(read_idx_labels(t.file("lab.gz")) == kLabels);
}

TEST_CASE("idx: rejects a missing file naming it and the system error", "[idx]") {
    TempDir t;
    const std::string p = t.file("no-such-file");
    REQUIRE_THROWS_AS(read_idx_images(p), IdxError);
    REQUIRE_THROWS_WITH(read_idx_images(p), Contains(p) && Contains("No such file or directory"));
    REQUIRE_THROWS_WITH(read_idx_labels(p), Contains(p) && Contains("No such file or directory"));
}

TEST_CASE("idx: rejects a directory given in place of a file", "[idx]") {
    TempDir t;
    REQUIRE_THROWS_WITH(read_idx_images(t.path.string()), Contains("cannot read") && Contains(t.path.string()));
}

TEST_CASE("idx: rejects a file shorter than the header", "[idx]") {
    TempDir t;
    SECTION("images need 16 bytes") {
        write_raw(t.file("img"), Bytes{0, 0, 8, 3, 0, 0, 0, 1, 0, 0});
        REQUIRE_THROWS_WITH(read_idx_images(t.file("img")),
                            Contains(t.file("img")) && Contains("only 10 bytes") && Contains("16-byte header"));
    }
    SECTION("labels need 8 bytes") {
        write_raw(t.file("lab"), Bytes{0, 0, 8, 1});
        REQUIRE_THROWS_WITH(read_idx_labels(t.file("lab")),
                            Contains(t.file("lab")) && Contains("only 4 bytes") && Contains("8-byte header"));
    }
    SECTION("an empty file") {
        write_raw(t.file("empty"), Bytes{});
        REQUIRE_THROWS_WITH(read_idx_images(t.file("empty")), Contains("only 0 bytes"));
    }
}

TEST_CASE("idx: rejects an image file whose magic number is not 2051", "[idx]") {
    TempDir t;
    SECTION("a label file read as images") {
        // 8 + 3 bytes would be shorter than an image header: pad it so the magic is what fails
        Bytes b = label_file(3, kLabels);
        b.resize(32, 0);
        write_raw(t.file("lab"), b);
        REQUIRE_THROWS_WITH(read_idx_images(t.file("lab")),
                            Contains(t.file("lab")) && Contains("magic number is 2049 (0x00000801)") &&
                                Contains("expected 2051 (0x00000803)") && Contains("label file"));
    }
    SECTION("a float IDX file") {
        write_raw(t.file("f"), image_file(3, 2, 4, kPixels, 0x00000D03));
        REQUIRE_THROWS_WITH(read_idx_images(t.file("f")),
                            Contains("magic number is 3331 (0x00000D03)") && Contains("expected 2051 (0x00000803)"));
    }
}

TEST_CASE("idx: rejects a label file whose magic number is not 2049", "[idx]") {
    TempDir t;
    write_raw(t.file("img"), image_file(3, 2, 4, kPixels));
    REQUIRE_THROWS_WITH(read_idx_labels(t.file("img")),
                        Contains(t.file("img")) && Contains("magic number is 2051 (0x00000803)") &&
                            Contains("expected 2049 (0x00000801)") && Contains("image file"));
}

TEST_CASE("idx: rejects files that declare no images or labels", "[idx]") {
    TempDir t;
    write_raw(t.file("img"), image_file(0, 2, 4, {}));
    write_raw(t.file("lab"), label_file(0, {}));
    REQUIRE_THROWS_WITH(read_idx_images(t.file("img")), Contains(t.file("img")) && Contains("no images"));
    REQUIRE_THROWS_WITH(read_idx_labels(t.file("lab")), Contains(t.file("lab")) && Contains("no labels"));
}

TEST_CASE("idx: rejects images with zero rows or zero columns", "[idx]") {
    TempDir t;
    write_raw(t.file("rows"), image_file(3, 0, 4, {}));
    write_raw(t.file("cols"), image_file(3, 2, 0, {}));
    REQUIRE_THROWS_WITH(read_idx_images(t.file("rows")), Contains("images of 0x4 pixels"));
    REQUIRE_THROWS_WITH(read_idx_images(t.file("cols")), Contains("images of 2x0 pixels"));
}

TEST_CASE("idx: rejects a truncated image body saying how many bytes are missing", "[idx]") {
    TempDir t;
    write_raw(t.file("img"), image_file(3, 2, 4, Bytes(kPixels.begin(), kPixels.end() - 5)));
    REQUIRE_THROWS_AS(read_idx_images(t.file("img")), IdxError);
    REQUIRE_THROWS_WITH(read_idx_images(t.file("img")),
                        Contains(t.file("img")) &&
                            Contains("header declares 3 images of 2x4 = 24 bytes, but the file holds 19 bytes after "
                                     "the 16-byte header (truncated: 5 bytes missing)"));
}

TEST_CASE("idx: rejects trailing bytes after the image data", "[idx]") {
    TempDir t;
    Bytes px = kPixels;
    px.push_back(0);
    write_raw(t.file("img"), image_file(3, 2, 4, px));
    REQUIRE_THROWS_WITH(read_idx_images(t.file("img")),
                        Contains("holds 25 bytes after the 16-byte header (1 trailing byte after the data)"));
}

TEST_CASE("idx: rejects truncated and over-long label files", "[idx]") {
    TempDir t;
    write_raw(t.file("short"), label_file(5, kLabels));
    write_raw(t.file("long"), label_file(1, kLabels));
    REQUIRE_THROWS_WITH(read_idx_labels(t.file("short")),
                        Contains(t.file("short")) && Contains("header declares 5 labels = 5 bytes") &&
                            Contains("truncated: 2 bytes missing"));
    REQUIRE_THROWS_WITH(read_idx_labels(t.file("long")),
                        Contains(t.file("long")) && Contains("2 trailing bytes after the data"));
}

TEST_CASE("idx: rejects a header whose declared size overflows 64 bits", "[idx]") {
    TempDir t;
    write_raw(t.file("huge"), image_file(0xFFFFFFFFu, 0xFFFFFFFFu, 0xFFFFFFFFu, kPixels));
    REQUIRE_THROWS_WITH(read_idx_images(t.file("huge")),
                        Contains("more than 2^64 bytes") && Contains("holds 24 bytes") && Contains("truncated"));
    // large but representable: compared with the data, never allocated
    write_raw(t.file("big"), image_file(60000, 65536, 65536, kPixels));
    REQUIRE_THROWS_WITH(read_idx_images(t.file("big")), Contains("= 257698037760000 bytes") && Contains("truncated"));
}

TEST_CASE("idx: rejects a label value of 10 naming its index and value", "[idx]") {
    TempDir t;
    write_raw(t.file("lab"), label_file(4, Bytes{1, 2, 10, 3}));
    REQUIRE_THROWS_WITH(read_idx_labels(t.file("lab")),
                        Contains(t.file("lab")) && Contains("label 2 is 10") && Contains("below 10"));
    CHECK(read_idx_labels(t.file("lab"), 11) == Bytes{1, 2, 10, 3});
}

TEST_CASE("idx: checks a gzip file's header against its decompressed size", "[idx]") {
    TempDir t;
    write_gz(t.file("img.gz"), image_file(3, 2, 4, Bytes(kPixels.begin(), kPixels.end() - 1)));
    REQUIRE_THROWS_WITH(read_idx_images(t.file("img.gz")),
                        Contains("the decompressed file holds 23 bytes") && Contains("truncated: 1 byte missing"));
}

TEST_CASE("idx: rejects a corrupt gzip stream naming the file", "[idx]") {
    TempDir t;
    write_gz(t.file("good.gz"), image_file(3, 2, 4, kPixels));
    const Bytes good = read_back(t.file("good.gz"));
    REQUIRE(good.size() > 20);
    SECTION("cut short") {
        write_raw(t.file("bad.gz"), Bytes(good.begin(), good.end() - 12));
        REQUIRE_THROWS_WITH(read_idx_images(t.file("bad.gz")),
                            Contains(t.file("bad.gz")) && Contains("corrupt gzip") && Contains("truncated"));
    }
    SECTION("a wrong CRC in the trailer") {
        Bytes bad = good;
        bad[bad.size() - 8] ^= 0xFF;  // first byte of the CRC-32
        write_raw(t.file("bad.gz"), bad);
        REQUIRE_THROWS_WITH(read_idx_images(t.file("bad.gz")),
                            Contains(t.file("bad.gz")) && Contains("corrupt gzip") && Contains("incorrect data check"));
    }
    SECTION("garbage after the compressed data") {
        Bytes bad = good;
        bad.insert(bad.end(), {'x', 'y', 'z'});
        write_raw(t.file("bad.gz"), bad);
        REQUIRE_THROWS_WITH(read_idx_images(t.file("bad.gz")),
                            Contains(t.file("bad.gz")) && Contains("3 bytes of trailing garbage"));
    }
    SECTION("only the gzip magic") {
        write_raw(t.file("bad.gz"), Bytes{0x1f, 0x8b});
        REQUIRE_THROWS_WITH(read_idx_labels(t.file("bad.gz")), Contains(t.file("bad.gz")) && Contains("corrupt gzip"));
    }
}
