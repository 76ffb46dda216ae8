// Reading IDX files (the MNIST container format) into checked byte arrays. The whole file is read
// into memory first (gunzipped when it starts with the gzip magic 0x1f 0x8b), and only then is the
// header believed: the declared sizes are compared with the bytes actually present before anything
// is sized from them, so a corrupt header can neither overflow an allocation nor read past the end.
#include "data_loader/idx.hpp"

#include <sys/stat.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstddef>
#include <cstdio>
#include <cstring>
#include <memory>
#include <new>
#include <stdexcept>

namespace mnist {
namespace {

constexpr uint32_t kImageMagic = 0x00000803;  // 2051: unsigned bytes, 3 dimensions
constexpr uint32_t kLabelMagic = 0x00000801;  // 2049: unsigned bytes, 1 dimension
constexpr size_t kImageHeader = 16;           // magic, count, rows, cols
constexpr size_t kLabelHeader = 8;            // magic, count

// A file's bytes after decompression, and whether they came out of gzip (for the messages).
struct FileBytes {
    std::vector<uint8_t> data;
    bool gzipped = false;
};

struct FileCloser {
    void operator()(std::FILE* f) const { std::fclose(f); }
};

std::string hex32(uint32_t v) {
    char buf[16];
    std::snprintf(buf, sizeof buf, "0x%08X", v);
    return buf;
}

std::vector<uint8_t> read_raw(const std::string& path) {
    errno = 0;
    std::unique_ptr<std::FILE, FileCloser> f(std::fopen(path.c_str(), "rb"));
    if (!f) throw IdxError("cannot open IDX file '" + path + "': " + std::strerror(errno));
    std::vector<uint8_t> data;
    // The size of a regular file is only a capacity hint; the bytes actually read are what count.
    struct stat st {};
    if (fstat(fileno(f.get()), &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0)
        data.reserve(size_t(st.st_size) + 1);  // +1: room for the read that finds the end
    constexpr size_t kChunk = size_t(1) << 20;
    for (;;) {
        const size_t old = data.size();
        const size_t room = data.capacity() - old;  // fill what is reserved before growing
        data.resize(old + (room > 0 ? room : kChunk));
        const size_t got = std::fread(data.data() + old, 1, data.size() - old, f.get());
        data.resize(old + got);
        if (got == 0) break;
    }
    if (std::ferror(f.get()))  // e.g. EISDIR when the path is a directory
        throw IdxError("cannot read IDX file '" + path + "': " + std::strerror(errno));
    return data;
}

// Inflates one or more concatenated gzip members (what `gzip -c a b` or `cat a.gz b.gz` makes).
std::vector<uint8_t> gunzip(const std::string& path, const std::vector<uint8_t>& in) {
    z_stream zs{};
    if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK)
        throw IdxError("'" + path + "': cannot initialise zlib to decompress the gzip file");
    std::unique_ptr<z_stream, int (*)(z_stream*)> guard(&zs, inflateEnd);

    // Start from the size the gzip trailer records (mod 2^32, and unchecked until the end), capped
    // at what deflate can possibly expand to, so a single-member file is inflated without regrowth.
    const size_t n = in.size();
    size_t guess = n >= 18 ? size_t(in[n - 4]) | size_t(in[n - 3]) << 8 | size_t(in[n - 2]) << 16 |
                                 size_t(in[n - 1]) << 24
                           : 0;
    guess = std::min(guess, n * 1032);
    std::vector<uint8_t> out(std::max(guess, size_t(1) << 16));
    size_t in_pos = 0, out_pos = 0;
    for (;;) {
        if (out_pos == out.size()) out.resize(out.size() * 2);
        // zlib counts in 32-bit uInt: feed and drain in slices no larger than that.
        zs.next_in = const_cast<Bytef*>(in.data() + in_pos);
        zs.avail_in = uInt(std::min<size_t>(in.size() - in_pos, UINT_MAX));
        zs.next_out = out.data() + out_pos;
        zs.avail_out = uInt(std::min<size_t>(out.size() - out_pos, UINT_MAX));
        const uInt avail_in = zs.avail_in, avail_out = zs.avail_out;
        int rc = inflate(&zs, Z_NO_FLUSH);
        in_pos += avail_in - zs.avail_in;
        out_pos += avail_out - zs.avail_out;
        if (rc == Z_STREAM_END) {
            if (in_pos == in.size()) break;
            if (in.size() - in_pos >= 2 && in[in_pos] == 0x1f && in[in_pos + 1] == 0x8b) {
                inflateReset(&zs);  // another gzip member follows
                continue;
            }
            throw IdxError("'" + path + "': corrupt gzip file: " + std::to_string(in.size() - in_pos) +
                           " bytes of trailing garbage after the compressed data");
        }
        if (rc == Z_OK) continue;
        if (rc == Z_BUF_ERROR && zs.avail_out == 0) continue;  // only needed more room
        if (rc == Z_BUF_ERROR && in_pos == in.size())
            throw IdxError("'" + path + "': corrupt gzip file: the compressed data is truncated (ended after " +
                           std::to_string(in.size()) + " compressed bytes, " + std::to_string(out_pos) +
                           " decompressed, before the end-of-stream marker)");
        if (rc == Z_MEM_ERROR) throw std::bad_alloc();
        const std::string why = zs.msg ? zs.msg : "zlib error " + std::to_string(rc);
        throw IdxError("'" + path + "': corrupt gzip file: " + why + " (after " + std::to_string(out_pos) +
                       " decompressed bytes)");
    }
    out.resize(out_pos);
    out.shrink_to_fit();
    return out;
}

FileBytes read_file(const std::string& path) {
    FileBytes fb;
    fb.data = read_raw(path);
    if (fb.data.size() >= 2 && fb.data[0] == 0x1f && fb.data[1] == 0x8b) {
        fb.data = gunzip(path, fb.data);
        fb.gzipped = true;
    }
    return fb;
}

uint32_t be32(const uint8_t* p) {
    return uint32_t(p[0]) << 24 | uint32_t(p[1]) << 16 | uint32_t(p[2]) << 8 | uint32_t(p[3]);
}

std::string n_bytes(uint64_t n) { return std::to_string(n) + (n == 1 ? " byte" : " bytes"); }

const char* holds(const FileBytes& fb) { return fb.gzipped ? "the decompressed file holds" : "the file holds"; }

void check_header_present(const std::string& path, const FileBytes& fb, size_t header, const char* kind) {
    if (fb.data.size() < header)
        throw IdxError("'" + path + "': " + holds(fb) + " only " + std::to_string(fb.data.size()) +
                       " bytes, shorter than the " + std::to_string(header) + "-byte header of an IDX " + kind +
                       " file");
}

void check_magic(const std::string& path, uint32_t found, uint32_t expected, const char* kind) {
    if (found == expected) return;
    std::string msg = "'" + path + "': magic number is " + std::to_string(found) + " (" + hex32(found) +
                      "), expected " + std::to_string(expected) + " (" + hex32(expected) + ") for an IDX " + kind +
                      " file";
    if (found == kImageMagic) msg += "; this is an image file";
    if (found == kLabelMagic) msg += "; this is a label file";
    throw IdxError(msg);
}

// Compares the bytes after the header with what the header declares; `overflow` says the declared
// size does not even fit in 64 bits (then `declared` is meaningless and the file is surely short).
void check_body(const std::string& path, const FileBytes& fb, size_t header, const std::string& what,
                bool overflow, uint64_t declared) {
    const uint64_t body = fb.data.size() - header;
    if (!overflow && body == declared) return;
    std::string msg = "'" + path + "': header declares " + what + " = " +
                      (overflow ? std::string("more than 2^64") : std::to_string(declared)) + " bytes, but " +
                      holds(fb) + " " + std::to_string(body) + " bytes after the " + std::to_string(header) +
                      "-byte header";
    if (overflow || body < declared)
        msg += " (truncated" + (overflow ? std::string() : ": " + n_bytes(declared - body) + " missing") + ")";
    else
        msg += " (" + std::to_string(body - declared) + (body - declared == 1 ? " trailing byte" : " trailing bytes") +
               " after the data)";
    throw IdxError(msg);
}

}  // namespace

IdxImages read_idx_images(const std::string& path) {
    FileBytes fb = read_file(path);
    check_header_present(path, fb, kImageHeader, "image");
    const uint8_t* h = fb.data.data();
    check_magic(path, be32(h), kImageMagic, "image");

    IdxImages im;
    im.count = be32(h + 4);
    im.rows = be32(h + 8);
    im.cols = be32(h + 12);
    if (im.count == 0)
        throw IdxError("'" + path + "': no images: the header declares a count of 0, expected at least 1");
    if (im.rows == 0 || im.cols == 0)
        throw IdxError("'" + path + "': header declares images of " + std::to_string(im.rows) + "x" +
                       std::to_string(im.cols) + " pixels; expected at least 1 row and 1 column");

    // rows*cols fits in 64 bits (both < 2^32); the product with count may not.
    const uint64_t per_image = uint64_t(im.rows) * im.cols;
    uint64_t declared = 0;
    const bool overflow = __builtin_mul_overflow(per_image, uint64_t(im.count), &declared);
    check_body(path, fb, kImageHeader,
               std::to_string(im.count) + " images of " + std::to_string(im.rows) + "x" + std::to_string(im.cols),
               overflow, declared);

    // Drop the header in place rather than copying 47 MB into a second buffer.
    fb.data.erase(fb.data.begin(), fb.data.begin() + kImageHeader);
    im.pixels = std::move(fb.data);
    return im;
}

std::vector<uint8_t> read_idx_labels(const std::string& path, int num_classes) {
    if (num_classes <= 0)
        throw std::invalid_argument("read_idx_labels('" + path + "'): num_classes must be positive, got " +
                                    std::to_string(num_classes));
    FileBytes fb = read_file(path);
    check_header_present(path, fb, kLabelHeader, "label");
    const uint8_t* h = fb.data.data();
    check_magic(path, be32(h), kLabelMagic, "label");

    const uint32_t count = be32(h + 4);
    if (count == 0)
        throw IdxError("'" + path + "': no labels: the header declares a count of 0, expected at least 1");
    check_body(path, fb, kLabelHeader, std::to_string(count) + " labels", false, count);

    fb.data.erase(fb.data.begin(), fb.data.begin() + kLabelHeader);
    for (size_t i = 0; i < fb.data.size(); ++i)
        if (fb.data[i] >= num_classes)
            throw IdxError("'" + path + "': label " + std::to_string(i) + " is " + std::to_string(fb.data[i]) +
                           ", expected a class below " + std::to_string(num_classes));
    return std::move(fb.data);
}

}  // namespace mnist
