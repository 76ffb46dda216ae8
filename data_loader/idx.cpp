// Reading IDX files (the MNIST container format) into checked byte arrays. A file is read into memory
// (gunzipped when it starts with the gzip magic 0x1f 0x8b) up to what its header declares plus one
// byte, in buffers that grow with the bytes actually read; only then is the header believed: the
// declared sizes are compared with the bytes actually present before anything is sized from them, so
// a corrupt header can neither overflow an allocation nor read past the end, and neither a long file
// nor a gzip trailer claiming gigabytes makes the reader hold more than the header declares.
#include "data_loader/idx.hpp"

#include <sys/stat.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstddef>
#include <cstdio>
#include <cstring>
#include <limits>
#include <memory>
#include <new>
#include <stdexcept>

namespace mnist {
namespace {

constexpr uint32_t kImageMagic = 0x00000803;  // 2051: unsigned bytes, 3 dimensions
constexpr uint32_t kLabelMagic = 0x00000801;  // 2049: unsigned bytes, 1 dimension
constexpr size_t kImageHeader = 16;           // magic, count, rows, cols
constexpr size_t kLabelHeader = 8;            // magic, count

// A file's bytes after decompression, and whether they came out of gzip (for the messages). Only
// as many bytes are kept as the header makes worth reading: the declared body plus one byte, which
// is enough to prove that the file is too long. `size` is then the whole size when it is known (a
// regular raw file) and data.size() when it is not (`cut` says the data was cut there).
struct FileBytes {
    std::vector<uint8_t> data;
    uint64_t size = 0;
    bool gzipped = false;
    bool cut = false;
};

// The most bytes of a file worth holding, from its first `header` bytes: the header, the body it
// declares and one byte more; just the header when the header is wrong anyway (bad magic).
using Cap = uint64_t (*)(const uint8_t* header);

struct FileCloser {
    void operator()(std::FILE* f) const { std::fclose(f); }
};

std::string hex32(uint32_t v) {
    char buf[16];
    std::snprintf(buf, sizeof buf, "0x%08X", v);
    return buf;
}

uint32_t be32(const uint8_t* p) {
    return uint32_t(p[0]) << 24 | uint32_t(p[1]) << 16 | uint32_t(p[2]) << 8 | uint32_t(p[3]);
}

uint64_t saturating_cap(size_t header, uint64_t declared) {
    const uint64_t room = std::numeric_limits<uint64_t>::max() - header - 1;
    return declared > room ? std::numeric_limits<uint64_t>::max() : header + declared + 1;
}

uint64_t image_cap(const uint8_t* h) {
    if (be32(h) != kImageMagic) return kImageHeader;
    uint64_t declared = 0;
    if (__builtin_mul_overflow(uint64_t(be32(h + 8)) * be32(h + 12), uint64_t(be32(h + 4)), &declared))
        return std::numeric_limits<uint64_t>::max();
    return saturating_cap(kImageHeader, declared);
}

uint64_t label_cap(const uint8_t* h) {
    if (be32(h) != kLabelMagic) return kLabelHeader;
    return saturating_cap(kLabelHeader, be32(h + 4));
}

// Reads up to `limit` more bytes of f into data, in chunks that grow with what actually arrives.
void read_up_to(std::FILE* f, std::vector<uint8_t>& data, uint64_t limit) {
    size_t chunk = size_t(1) << 16;
    while (data.size() < limit) {
        const size_t old = data.size();
        const size_t want = size_t(std::min<uint64_t>(limit - old, std::max(chunk, data.capacity() - old)));
        data.resize(old + want);
        const size_t got = std::fread(data.data() + old, 1, want, f);
        data.resize(old + got);
        if (got == 0) break;
        chunk = std::min(chunk * 2, size_t(1) << 26);
    }
}

// The raw bytes of path: all of a gzip file; of any other file the header and at most cap(header).
FileBytes read_raw(const std::string& path, size_t header, Cap cap) {
    errno = 0;
    std::unique_ptr<std::FILE, FileCloser> f(std::fopen(path.c_str(), "rb"));
    if (!f) throw IdxError("cannot open IDX file '" + path + "': " + std::strerror(errno));
    struct stat st {};
    const bool have_stat = fstat(fileno(f.get()), &st) == 0;
    const bool regular = have_stat && S_ISREG(st.st_mode);
    if (have_stat && S_ISDIR(st.st_mode))
        throw IdxError("cannot read IDX file '" + path + "': it is a directory, expected a file");
    FileBytes fb;
    read_up_to(f.get(), fb.data, header);
    const bool gzip = fb.data.size() >= 2 && fb.data[0] == 0x1f && fb.data[1] == 0x8b;
    const uint64_t limit = gzip ? std::numeric_limits<uint64_t>::max()
                          : fb.data.size() == header ? cap(fb.data.data()) : fb.data.size();
    // The size of a regular file is a capacity hint only; the bytes actually read are what count.
    if (regular && st.st_size > 0) fb.data.reserve(size_t(std::min<uint64_t>(uint64_t(st.st_size), limit)));
    read_up_to(f.get(), fb.data, limit);
    if (std::ferror(f.get()))
        throw IdxError("cannot read IDX file '" + path + "': " + std::strerror(errno));
    fb.size = fb.data.size();
    if (!gzip && fb.data.size() == limit && limit > header) {
        fb.cut = true;
        if (regular && uint64_t(st.st_size) >= limit) {
            fb.size = uint64_t(st.st_size);
            fb.cut = false;
        }
    }
    return fb;
}

// Inflates one or more concatenated gzip members (what `gzip -c a b` or `cat a.gz b.gz` makes), never
// more than cap(the first `header` decompressed bytes). The trailer's size field is not trusted: the
// output starts from a small guess and doubles with what actually comes out.
FileBytes gunzip(const std::string& path, const std::vector<uint8_t>& in, size_t header, Cap cap) {
    z_stream zs{};
    if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK)
        throw IdxError("'" + path + "': cannot initialise zlib to decompress the gzip file");
    std::unique_ptr<z_stream, int (*)(z_stream*)> guard(&zs, inflateEnd);

    FileBytes fb;
    fb.gzipped = true;
    uint64_t limit = header;  // until the header is out
    bool capped = false;
    std::vector<uint8_t>& out = fb.data;
    out.resize(header);
    size_t in_pos = 0, out_pos = 0;
    for (;;) {
        if (out_pos == limit && !capped) {
            capped = true;
            limit = std::max<uint64_t>(cap(out.data()), header);
            // MNIST's files deflate about 5:1; 8x the input covers them in one buffer.
            out.resize(size_t(std::min<uint64_t>(limit, std::max<uint64_t>(uint64_t(1) << 16, 8 * uint64_t(in.size())))));
        }
        if (out_pos == limit) {
            fb.cut = true;  // as much as the header declares and a byte more: the file is too long
            break;
        }
        if (out_pos == out.size()) out.resize(size_t(std::min<uint64_t>(limit, 2 * uint64_t(out.size()))));
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
    fb.size = out.size();
    return fb;
}

FileBytes unpack(std::vector<uint8_t> raw, const std::string& path, size_t header, Cap cap) {
    if (raw.size() >= 2 && raw[0] == 0x1f && raw[1] == 0x8b) return gunzip(path, raw, header, cap);
    FileBytes fb;
    fb.size = raw.size();
    fb.data = std::move(raw);
    return fb;
}

FileBytes read_file(const std::string& path, size_t header, Cap cap) {
    FileBytes fb = read_raw(path, header, cap);
    if (fb.data.size() >= 2 && fb.data[0] == 0x1f && fb.data[1] == 0x8b) return gunzip(path, fb.data, header, cap);
    return fb;
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
    const uint64_t body = fb.size - header;
    if (!overflow && body == declared && !fb.cut) return;
    std::string msg = "'" + path + "': header declares " + what + " = " +
                      (overflow ? std::string("more than 2^64") : std::to_string(declared)) + " bytes, but " +
                      holds(fb) + (fb.cut ? " more than " + std::to_string(declared) : " " + std::to_string(body)) +
                      " bytes after the " + std::to_string(header) + "-byte header";
    if (fb.cut)
        msg += " (trailing bytes after the data; " + std::string(fb.gzipped ? "decompression" : "reading") +
               " stopped one byte past the declared size)";
    else if (overflow || body < declared)
        msg += " (truncated" + (overflow ? std::string() : ": " + n_bytes(declared - body) + " missing") + ")";
    else
        msg += " (" + std::to_string(body - declared) + (body - declared == 1 ? " trailing byte" : " trailing bytes") +
               " after the data)";
    throw IdxError(msg);
}

IdxImages decode_images(FileBytes fb, const std::string& path) {
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

std::vector<uint8_t> decode_labels(FileBytes fb, const std::string& path, int num_classes) {
    if (num_classes <= 0)
        throw std::invalid_argument("read_idx_labels('" + path + "'): num_classes must be positive, got " +
                                    std::to_string(num_classes));
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

}  // namespace

IdxImages read_idx_images(const std::string& path) {
    return decode_images(read_file(path, kImageHeader, image_cap), path);
}

std::vector<uint8_t> read_idx_labels(const std::string& path, int num_classes) {
    return decode_labels(read_file(path, kLabelHeader, label_cap), path, num_classes);
}

IdxImages decode_idx_images(std::vector<uint8_t> file, const std::string& what) {
    return decode_images(unpack(std::move(file), what, kImageHeader, image_cap), what);
}

std::vector<uint8_t> decode_idx_labels(std::vector<uint8_t> file, const std::string& what, int num_classes) {
    return decode_labels(unpack(std::move(file), what, kLabelHeader, label_cap), what, num_classes);
}

}  // namespace mnist
