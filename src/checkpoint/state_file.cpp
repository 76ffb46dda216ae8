// TensorFlow's CheckpointState text proto, written and read line by line, and the keep/delete decision
// of tf.train.Saver. The parser accepts the subset of the protobuf text format that TensorFlow writes
// for this message (one scalar field per line, C-escaped strings, `#` comments) and rejects everything
// else with the file name and line number, because a misread state file would restore the wrong
// checkpoint or delete the right one.
#include "src/checkpoint/state_file.hpp"

#include "src/text.hpp"

#include <cctype>
#include <cmath>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace mnist {

namespace {

const char* const kModelPath = "model_checkpoint_path";
const char* const kAllPaths = "all_model_checkpoint_paths";
const char* const kAllTimestamps = "all_model_checkpoint_timestamps";
const char* const kLastPreserved = "last_preserved_timestamp";
const char* const kPreservedComment = "# preserved: ";

// Doubles as the shortest text that reads back exactly (non-finite ones as inf/nan, which the
// protobuf text format also reads).
std::string num(double x) { return exact_decimal(x); }

std::string quote(const std::string& s) {
    std::string out = "\"";
    for (unsigned char c : s) {
        switch (c) {
            case '"': out += "\\\""; break;
            case '\\': out += "\\\\"; break;
            case '\n': out += "\\n"; break;
            case '\r': out += "\\r"; break;
            case '\t': out += "\\t"; break;
            default:
                if (c < 0x20 || c == 0x7f) {  // a raw control character would break the line format
                    char buf[8];
                    std::snprintf(buf, sizeof buf, "\\%03o", c);
                    out += buf;
                } else {
                    out += static_cast<char>(c);
                }
        }
    }
    return out + "\"";
}

// A cursor over one line of the state file; every error names the file and the line.
class Line {
public:
    Line(const std::string& text, const std::string& what, int number)
        : text_(text), what_(what), number_(number) {}

    [[noreturn]] void fail(const std::string& problem) const {
        throw CheckpointError(what_ + ":" + std::to_string(number_) + ": " + problem);
    }

    void skip_space() {
        while (pos_ < text_.size() && (text_[pos_] == ' ' || text_[pos_] == '\t' || text_[pos_] == '\r'))
            ++pos_;
    }
    bool at_end() const { return pos_ >= text_.size(); }
    char peek() const { return at_end() ? '\0' : text_[pos_]; }
    bool consume(const std::string& s) {
        if (text_.compare(pos_, s.size(), s) != 0) return false;
        pos_ += s.size();
        return true;
    }

    std::string identifier() {
        const size_t start = pos_;
        while (pos_ < text_.size() &&
               (std::isalnum(static_cast<unsigned char>(text_[pos_])) || text_[pos_] == '_'))
            ++pos_;
        if (pos_ == start) fail("expected a field name, found " + rest());
        return text_.substr(start, pos_ - start);
    }

    // One quoted string, or several adjacent ones concatenated as the protobuf text format does.
    std::string string_value() {
        if (peek() != '"' && peek() != '\'') fail("expected a quoted string, found " + rest());
        std::string out;
        while (peek() == '"' || peek() == '\'') {
            out += one_string();
            skip_space();
        }
        return out;
    }

    double number_value() {
        const size_t start = pos_;
        while (pos_ < text_.size() && (std::isalnum(static_cast<unsigned char>(text_[pos_])) ||
                                       text_[pos_] == '.' || text_[pos_] == '+' || text_[pos_] == '-'))
            ++pos_;
        const std::string token = text_.substr(start, pos_ - start);
        // strtod also reads hexadecimal, which the text format does not write for doubles.
        const bool hex = token.find_first_of("xX") != std::string::npos;
        char* end = nullptr;
        const double v = token.empty() ? 0.0 : std::strtod(token.c_str(), &end);
        if (token.empty() || hex || end != token.c_str() + token.size())
            fail("expected a number, found " + (token.empty() ? rest() : "\"" + token + "\""));
        return v;
    }

    // After a value only spaces or a comment may follow.
    void expect_end() {
        skip_space();
        if (!at_end() && peek() != '#') fail("unexpected text after the value: " + rest());
    }

    std::string rest() const {
        if (at_end()) return "end of line";
        std::string r = text_.substr(pos_, 40);
        return "\"" + r + (text_.size() - pos_ > 40 ? "...\"" : "\"");
    }

private:
    std::string one_string() {
        const char q = text_[pos_++];
        std::string out;
        for (;;) {
            if (at_end()) fail("unterminated string (missing closing " + std::string(1, q) + ")");
            const char c = text_[pos_++];
            if (c == q) return out;
            if (c != '\\') {
                out += c;
                continue;
            }
            if (at_end()) fail("unterminated string (backslash at end of line)");
            const char e = text_[pos_++];
            switch (e) {
                case '"':
                case '\'':
                case '\\':
                case '?': out += e; break;
                case 'n': out += '\n'; break;
                case 'r': out += '\r'; break;
                case 't': out += '\t'; break;
                case 'a': out += '\a'; break;
                case 'b': out += '\b'; break;
                case 'f': out += '\f'; break;
                case 'v': out += '\v'; break;
                case 'x':
                case 'X': {
                    int v = 0, digits = 0;
                    while (digits < 2 && std::isxdigit(static_cast<unsigned char>(peek()))) {
                        const char h = text_[pos_++];
                        v = v * 16 + (std::isdigit(static_cast<unsigned char>(h))
                                          ? h - '0'
                                          : (std::tolower(h) - 'a' + 10));
                        ++digits;
                    }
                    if (digits == 0) fail("malformed string: \\x without hexadecimal digits");
                    out += static_cast<char>(v);
                    break;
                }
                default:
                    if (e >= '0' && e <= '7') {
                        int v = e - '0', digits = 1;
                        while (digits < 3 && peek() >= '0' && peek() <= '7') {
                            v = v * 8 + (text_[pos_++] - '0');
                            ++digits;
                        }
                        if (v > 0xff) fail("malformed string: octal escape above \\377");
                        out += static_cast<char>(v);
                    } else {
                        fail(std::string("malformed string: unknown escape \\") + e);
                    }
            }
        }
    }

    const std::string& text_;
    const std::string& what_;
    int number_;
    size_t pos_ = 0;
};

}  // namespace

std::string format_checkpoint_state(const CheckpointState& s) {
    std::string out;
    out += std::string(kModelPath) + ": " + quote(s.model_checkpoint_path) + "\n";
    for (const std::string& p : s.all_model_checkpoint_paths)
        out += std::string(kAllPaths) + ": " + quote(p) + "\n";
    for (double t : s.all_model_checkpoint_timestamps)
        out += std::string(kAllTimestamps) + ": " + num(t) + "\n";
    out += std::string(kLastPreserved) + ": " + num(s.last_preserved_timestamp) + "\n";
    for (const std::string& p : s.preserved_paths) out += kPreservedComment + quote(p) + "\n";
    return out;
}

CheckpointState parse_checkpoint_state(const std::string& text, const std::string& what) {
    CheckpointState s;
    int model_line = 0, preserved_line = 0, number = 0;
    size_t start = 0;
    while (start < text.size()) {
        size_t stop = text.find('\n', start);
        if (stop == std::string::npos) stop = text.size();
        const std::string content = text.substr(start, stop - start);
        start = stop + 1;
        Line line(content, what, ++number);

        line.skip_space();
        if (line.at_end()) continue;
        if (line.peek() == '#') {
            if (line.consume(kPreservedComment)) {
                line.skip_space();
                s.preserved_paths.push_back(line.string_value());
                line.expect_end();
            }
            continue;  // any other comment
        }
        const std::string name = line.identifier();
        line.skip_space();
        if (!line.consume(":")) line.fail("expected ':' after " + name + ", found " + line.rest());
        line.skip_space();
        if (name == kModelPath) {
            if (model_line)
                line.fail(name + " repeated (first given on line " + std::to_string(model_line) + ")");
            model_line = number;
            s.model_checkpoint_path = line.string_value();
            if (s.model_checkpoint_path.empty())
                line.fail("model_checkpoint_path is empty, expected a file name");
        } else if (name == kAllPaths) {
            s.all_model_checkpoint_paths.push_back(line.string_value());
        } else if (name == kAllTimestamps) {
            s.all_model_checkpoint_timestamps.push_back(line.number_value());
        } else if (name == kLastPreserved) {
            if (preserved_line)
                line.fail(name + " repeated (first given on line " + std::to_string(preserved_line) + ")");
            preserved_line = number;
            s.last_preserved_timestamp = line.number_value();
        } else {
            line.fail("unknown field \"" + name + "\" (expected " + kModelPath + ", " + kAllPaths + ", " +
                      kAllTimestamps + " or " + kLastPreserved + ")");
        }
        line.expect_end();
    }
    if (!model_line)
        throw CheckpointError(what + ": no model_checkpoint_path field in " + std::to_string(number) +
                              " lines");
    if (!s.all_model_checkpoint_timestamps.empty() &&
        s.all_model_checkpoint_timestamps.size() != s.all_model_checkpoint_paths.size())
        throw CheckpointError(what + ": " + std::to_string(s.all_model_checkpoint_timestamps.size()) + " " +
                              kAllTimestamps + " for " + std::to_string(s.all_model_checkpoint_paths.size()) +
                              " " + kAllPaths + ", expected one timestamp per path");
    return s;
}

RetentionResult apply_retention(CheckpointState s, const std::string& path, double timestamp,
                                int64_t max_to_keep, double keep_every_n_hours) {
    auto& paths = s.all_model_checkpoint_paths;
    auto& times = s.all_model_checkpoint_timestamps;
    if (!times.empty() && times.size() != paths.size())
        throw CheckpointError("checkpoint state has " + std::to_string(times.size()) + " timestamps for " +
                              std::to_string(paths.size()) + " paths, expected one timestamp per path");
    if (s.last_preserved_timestamp <= 0)
        s.last_preserved_timestamp = times.empty() ? timestamp : times.front();
    if (times.empty()) times.assign(paths.size(), s.last_preserved_timestamp);

    // Saving under a name already listed replaces that file, so the old entry goes.
    for (size_t i = paths.size(); i-- > 0;) {
        if (paths[i] == path) {
            paths.erase(paths.begin() + static_cast<std::ptrdiff_t>(i));
            times.erase(times.begin() + static_cast<std::ptrdiff_t>(i));
        }
    }
    for (size_t i = s.preserved_paths.size(); i-- > 0;)
        if (s.preserved_paths[i] == path)
            s.preserved_paths.erase(s.preserved_paths.begin() + static_cast<std::ptrdiff_t>(i));
    paths.push_back(path);
    times.push_back(timestamp);
    s.model_checkpoint_path = path;

    RetentionResult r;
    while (max_to_keep > 0 && paths.size() > static_cast<uint64_t>(max_to_keep)) {
        const std::string oldest = paths.front();
        const double t = times.front();
        paths.erase(paths.begin());
        times.erase(times.begin());
        if (keep_every_n_hours > 0 && keep_every_n_hours * 3600.0 <= t - s.last_preserved_timestamp) {
            s.preserved_paths.push_back(oldest);
            s.last_preserved_timestamp = t;
        } else {
            r.to_delete.push_back(oldest);
        }
    }
    r.state = std::move(s);
    return r;
}

}  // namespace mnist
