// Tests for data_loader/idx: tiny IDX files written into a fresh temporary directory, read back raw
// and gzip-compressed, and every way a file can be wrong, each checked for a message that names the
// file and says what was expected and what was found.
#include "data_loader/idx.hpp"

#include <catch2/catch.hpp>
#include <zlib.h>

#include <algorithm>
#include <fstream>

#include <string>
#include <vector>

#include "tests/unit/fixture.hpp"

using Catch::Matchers::Contains;
using mnist::IdxError;
using mnist::read_idx_images;
using mnist::read_idx_labels;
using testutil::idx_images;
using testutil::idx_labels;
using testutil::read_bytes;
using testutil::TempDir;
using testutil::with_be32;
using testutil::write_bytes;
using testutil::write_gz;

namespace {

using Bytes = std::vector<uint8_t>;

// 3 images of 2x4: pixel j of image i is 10*i + j, plus the extremes 0 and 255.
const Bytes kPixels = {0,  1,  2,  3,  4,  5,  6,  7,    //
                       10, 11, 12, 13, 14, 15, 16, 17,   //
                       20, 21, 22, 23, 24, 25, 26, 255};
const Bytes kLabels = {7, 0, 9};

}  // namespace

TEST_CASE("idx: reads a raw image file with its dimensions and pixels in order", "[idx]") {
    TempDir t;
    write_bytes(t / "img", idx_images(3, 2, 4, kPixels));
    const mnist::IdxImages im = read_idx_images(t / "img");
    CHECK(im.count == 3);
    CHECK(im.rows == 2);
    CHECK(im.cols == 4);
    CHECK(im.pixels == kPixels);
}

TEST_CASE("idx: reads a raw label file", "[idx]") {
    TempDir t;
    write_bytes(t / "lab", idx_labels(kLabels));
    CHECK(read_idx_labels(t / "lab") == kLabels);
}

TEST_CASE("idx: reads gzip-compressed image and label files, detected by content not by name", "[idx]") {
    TempDir t;
    write_gz(t / "img.gz", idx_images(3, 2, 4, kPixels));
    write_gz(t / "lab", idx_labels(kLabels));  // no .gz suffix: detection is by the 0x1f 0x8b magic
    const mnist::IdxImages im = read_idx_images(t / "img.gz");
    CHECK(im.count == 3);
    CHECK(im.rows == 2);
    CHECK(im.cols == 4);
    CHECK(im.pixels == kPixels);
    CHECK(read_idx_labels(t / "lab") == kLabels);
}

TEST_CASE("idx: reads a gzip file made of two concatenated gzip members", "[idx]") {
    TempDir t;
    const Bytes whole = idx_labels(kLabels);
    write_gz(t / "a.gz", Bytes(whole.begin(), whole.begin() + 5));
    write_gz(t / "b.gz", Bytes(whole.begin() + 5, whole.end()));
    Bytes cat = read_bytes(t / "a.gz");
    const Bytes b = read_bytes(t / "b.gz");
    cat.insert(cat.end(), b.begin(), b.end());
    write_bytes(t / "lab.gz", cat);
    CHECK(read_idx_labels(t / "lab.gz") == kLabels);
}

TEST_CASE("idx: rejects a missing file naming it and the system error", "[idx]") {
    TempDir t;
    const std::string p = t / "no-such-file";
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
        write_bytes(t / "img", Bytes{0, 0, 8, 3, 0, 0, 0, 1, 0, 0});
        REQUIRE_THROWS_WITH(read_idx_images(t / "img"),
                            Contains(t / "img") && Contains("only 10 bytes") && Contains("16-byte header"));
    }
    SECTION("labels need 8 bytes") {
        write_bytes(t / "lab", Bytes{0, 0, 8, 1});
        REQUIRE_THROWS_WITH(read_idx_labels(t / "lab"),
                            Contains(t / "lab") && Contains("only 4 bytes") && Contains("8-byte header"));
    }
    SECTION("an empty file") {
        write_bytes(t / "empty", Bytes{});
        REQUIRE_THROWS_WITH(read_idx_images(t / "empty"), Contains("only 0 bytes"));
    }
}

TEST_CASE("idx: rejects an image file whose magic number is not 2051", "[idx]") {
    TempDir t;
    SECTION("a label file read as images") {
        // 8 + 3 bytes would be shorter than an image header: pad it so the magic is what fails
        Bytes b = idx_labels(kLabels);
        b.resize(32, 0);
        write_bytes(t / "lab", b);
        REQUIRE_THROWS_WITH(read_idx_images(t / "lab"),
                            Contains(t / "lab") && Contains("magic number is 2049 (0x00000801)") &&
                                Contains("expected 2051 (0x00000803)") && Contains("label file"));
    }
    SECTION("a float IDX file") {
        write_bytes(t / "f", with_be32(idx_images(3, 2, 4, kPixels), 0, 0x00000D03));
        REQUIRE_THROWS_WITH(read_idx_images(t / "f"),
                            Contains("magic number is 3331 (0x00000D03)") && Contains("expected 2051 (0x00000803)"));
    }
}

TEST_CASE("idx: rejects a label file whose magic number is not 2049", "[idx]") {
    TempDir t;
    write_bytes(t / "img", idx_images(3, 2, 4, kPixels));
    REQUIRE_THROWS_WITH(read_idx_labels(t / "img"),
                        Contains(t / "img") && Contains("magic number is 2051 (0x00000803)") &&
                            Contains("expected 2049 (0x00000801)") && Contains("image file"));
}

TEST_CASE("idx: rejects files that declare no images or labels", "[idx]") {
    TempDir t;
    write_bytes(t / "img", idx_images(0, 2, 4, {}));
    write_bytes(t / "lab", idx_labels({}));
    REQUIRE_THROWS_WITH(read_idx_images(t / "img"), Contains(t / "img") && Contains("no images"));
    REQUIRE_THROWS_WITH(read_idx_labels(t / "lab"), Contains(t / "lab") && Contains("no labels"));
}

TEST_CASE("idx: rejects images with zero rows or zero columns", "[idx]") {
    TempDir t;
    write_bytes(t / "rows", idx_images(3, 0, 4, {}));
    write_bytes(t / "cols", idx_images(3, 2, 0, {}));
    REQUIRE_THROWS_WITH(read_idx_images(t / "rows"), Contains("images of 0x4 pixels"));
    REQUIRE_THROWS_WITH(read_idx_images(t / "cols"), Contains("images of 2x0 pixels"));
}

TEST_CASE("idx: rejects a truncated image body saying how many bytes are missing", "[idx]") {
    TempDir t;
    write_bytes(t / "img", idx_images(3, 2, 4, Bytes(kPixels.begin(), kPixels.end() - 5)));
    REQUIRE_THROWS_AS(read_idx_images(t / "img"), IdxError);
    REQUIRE_THROWS_WITH(read_idx_images(t / "img"),
                        Contains(t / "img") &&
                            Contains("header declares 3 images of 2x4 = 24 bytes, but the file holds 19 bytes after "
                                     "the 16-byte header (truncated: 5 bytes missing)"));
}

TEST_CASE("idx: rejects trailing bytes after the image data", "[idx]") {
    TempDir t;
    Bytes px = kPixels;
    px.push_back(0);
    write_bytes(t / "img", idx_images(3, 2, 4, px));
    REQUIRE_THROWS_WITH(read_idx_images(t / "img"),
                        Contains("holds 25 bytes after the 16-byte header (1 trailing byte after the data)"));
}

TEST_CASE("idx: rejects truncated and over-long label files", "[idx]") {
    TempDir t;
    write_bytes(t / "short", with_be32(idx_labels(kLabels), 4, 5));
    write_bytes(t / "long", with_be32(idx_labels(kLabels), 4, 1));
    REQUIRE_THROWS_WITH(read_idx_labels(t / "short"),
                        Contains(t / "short") && Contains("header declares 5 labels = 5 bytes") &&
                            Contains("truncated: 2 bytes missing"));
    REQUIRE_THROWS_WITH(read_idx_labels(t / "long"),
                        Contains(t / "long") && Contains("2 trailing bytes after the data"));
}

TEST_CASE("idx: rejects a header whose declared size overflows 64 bits", "[idx]") {
    TempDir t;
    write_bytes(t / "huge", idx_images(0xFFFFFFFFu, 0xFFFFFFFFu, 0xFFFFFFFFu, kPixels));
    REQUIRE_THROWS_WITH(read_idx_images(t / "huge"),
                        Contains("more than 2^64 bytes") && Contains("holds 24 bytes") && Contains("truncated"));
    // large but representable: compared with the data, never allocated
    write_bytes(t / "big", idx_images(60000, 65536, 65536, kPixels));
    REQUIRE_THROWS_WITH(read_idx_images(t / "big"), Contains("= 257698037760000 bytes") && Contains("truncated"));
}

TEST_CASE("idx: rejects a label value of 10 naming its index and value", "[idx]") {
    TempDir t;
    write_bytes(t / "lab", idx_labels(Bytes{1, 2, 10, 3}));
    REQUIRE_THROWS_WITH(read_idx_labels(t / "lab"),
                        Contains(t / "lab") && Contains("label 2 is 10") && Contains("below 10"));
    CHECK(read_idx_labels(t / "lab", 11) == Bytes{1, 2, 10, 3});
}

TEST_CASE("idx: checks a gzip file's header against its decompressed size", "[idx]") {
    TempDir t;
    write_gz(t / "img.gz", idx_images(3, 2, 4, Bytes(kPixels.begin(), kPixels.end() - 1)));
    REQUIRE_THROWS_WITH(read_idx_images(t / "img.gz"),
                        Contains("the decompressed file holds 23 bytes") && Contains("truncated: 1 byte missing"));
}

TEST_CASE("idx: rejects a corrupt gzip stream naming the file", "[idx]") {
    TempDir t;
    write_gz(t / "good.gz", idx_images(3, 2, 4, kPixels));
    const Bytes good = read_bytes(t / "good.gz");
    REQUIRE(good.size() > 20);
    SECTION("cut short") {
        write_bytes(t / "bad.gz", Bytes(good.begin(), good.end() - 12));
        REQUIRE_THROWS_WITH(read_idx_images(t / "bad.gz"),
                            Contains(t / "bad.gz") && Contains("corrupt gzip") && Contains("truncated"));
    }
    SECTION("a wrong CRC in the trailer") {
        Bytes bad = good;
        bad[bad.size() - 8] ^= 0xFF;  // first byte of the CRC-32
        write_bytes(t / "bad.gz", bad);
        REQUIRE_THROWS_WITH(read_idx_images(t / "bad.gz"),
                            Contains(t / "bad.gz") && Contains("corrupt gzip") && Contains("incorrect data check"));
    }
    SECTION("garbage after the compressed data") {
        Bytes bad = good;
        bad.insert(bad.end(), {'x', 'y', 'z'});
        write_bytes(t / "bad.gz", bad);
        REQUIRE_THROWS_WITH(read_idx_images(t / "bad.gz"),
                            Contains(t / "bad.gz") && Contains("3 bytes of trailing garbage"));
    }
    SECTION("only the gzip magic") {
        write_bytes(t / "bad.gz", Bytes{0x1f, 0x8b});
        REQUIRE_THROWS_WITH(read_idx_labels(t / "bad.gz"), Contains(t / "bad.gz") && Contains("corrupt gzip"));
    }
}

namespace {

// The peak resident set of this process so far, in bytes (VmHWM).
uint64_t peak_rss() {
    std::ifstream in("/proc/self/status");
    std::string line;
    while (std::getline(in, line))
        if (line.rfind("VmHWM:", 0) == 0) return std::stoull(line.substr(6)) * 1024;
    return 0;
}

// gzip of `head` followed by `zeros` zero bytes, compressed a megabyte at a time (the payload is
// never in memory whole).
Bytes gzip_with_zeros(const Bytes& head, uint64_t zeros) {
    z_stream zs{};
    REQUIRE(deflateInit2(&zs, 1, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) == Z_OK);
    Bytes out, chunk(1 << 20, 0), buf(1 << 20);
    auto pump = [&](const uint8_t* p, size_t n, int flush) {
        zs.next_in = const_cast<Bytef*>(p);
        zs.avail_in = uInt(n);
        do {
            zs.next_out = buf.data();
            zs.avail_out = uInt(buf.size());
            deflate(&zs, flush);
            out.insert(out.end(), buf.data(), buf.data() + (buf.size() - zs.avail_out));
        } while (zs.avail_out == 0);
    };
    pump(head.data(), head.size(), Z_NO_FLUSH);
    for (uint64_t left = zeros; left > 0;) {
        const size_t n = size_t(std::min<uint64_t>(left, chunk.size()));
        pump(chunk.data(), n, Z_NO_FLUSH);
        left -= n;
    }
    pump(nullptr, 0, Z_FINISH);
    deflateEnd(&zs);
    return out;
}

}  // namespace

// Issue 12: the trailer's size field was believed. A 1.6 MB .gz whose trailer claims 4 GB made the
// reader allocate 1.85 GB before reporting the (correct) length-check error.
TEST_CASE("idx: a gzip trailer claiming 4 GB is not believed: the error comes without a large allocation", "[idx]") {
    Bytes pixels(1600000);
    uint32_t x = 12345;
    for (uint8_t& p : pixels) p = uint8_t((x = x * 1103515245u + 12345u) >> 24);  // incompressible
    const Bytes file = idx_images(1600000 / 784, 28, 28, Bytes(pixels.begin(), pixels.begin() + 1600000 / 784 * 784));
    Bytes gz = gzip_with_zeros(file, 0);
    REQUIRE(gz.size() > 1500000);
    for (int i = 1; i <= 4; ++i) gz[gz.size() - i] = 0xFF;  // ISIZE = 4 GB - 1
    const uint64_t before = peak_rss();
    REQUIRE_THROWS_WITH(mnist::decode_idx_images(gz, "lying.gz"),
                        Contains("lying.gz") && Contains("corrupt gzip") && Contains("incorrect length check"));
    CHECK(peak_rss() - before < uint64_t(100) << 20);
}

// Issue 12: a .gz that inflates to 1 GB after the data the header declares was inflated whole (1.1 GB
// resident) before the trailing-bytes error. Now inflation stops one byte past the declared size.
TEST_CASE("idx: a gzip file with 1 GB of trailing bytes is refused after inflating one byte past the data", "[idx]") {
    const Bytes gz = gzip_with_zeros(idx_labels(kLabels), uint64_t(1) << 30);
    REQUIRE(gz.size() < 8000000);
    const uint64_t before = peak_rss();
    REQUIRE_THROWS_WITH(mnist::decode_idx_labels(gz, "long.gz"),
                        Contains("long.gz") && Contains("header declares 3 labels = 3 bytes") &&
                            Contains("more than 3 bytes after the 8-byte header") &&
                            Contains("decompression stopped one byte past the declared size"));
    CHECK(peak_rss() - before < uint64_t(100) << 20);
    // The same file on disk, read through the path API.
    TempDir t;
    write_bytes(t / "long.gz", gz);
    REQUIRE_THROWS_WITH(read_idx_labels(t / "long.gz"), Contains("trailing bytes after the data"));
    CHECK(peak_rss() - before < uint64_t(100) << 20);
}

TEST_CASE("idx: a raw file longer than its header declares is read only one byte past the data", "[idx]") {
    TempDir t;
    Bytes file = idx_labels(kLabels);
    file.resize(file.size() + (64 << 20), 0);  // 64 MB of trailing zeros
    write_bytes(t / "lab", file);
    const uint64_t before = peak_rss();
    REQUIRE_THROWS_WITH(read_idx_labels(t / "lab"),
                        Contains("holds " + std::to_string(3 + (64 << 20)) + " bytes after the 8-byte header") &&
                            Contains(std::to_string(64 << 20) + " trailing bytes"));
    CHECK(peak_rss() - before < uint64_t(32) << 20);
}

TEST_CASE("idx: the in-memory decoders give what the file readers give", "[idx]") {
    TempDir t;
    const Bytes img = idx_images(3, 2, 4, kPixels);
    write_gz(t / "img.gz", img);
    CHECK(mnist::decode_idx_images(img, "img").pixels == kPixels);
    CHECK(mnist::decode_idx_images(read_bytes(t / "img.gz"), "img.gz").pixels == kPixels);
    CHECK(mnist::decode_idx_labels(idx_labels(kLabels), "lab") == kLabels);
    REQUIRE_THROWS_WITH(mnist::decode_idx_labels(img, "img"), Contains("img") && Contains("this is an image file"));
}
