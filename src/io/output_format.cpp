#include "src/io/output_format.h"

#include <simdjson.h>

#include <algorithm>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace ppipe {

namespace {

// Calls f(record) for each line of `lines` (whole records, each ending in '\n').
template <typename F>
void each_line(std::string_view lines, F&& f) {
  while (!lines.empty()) {
    std::size_t nl = lines.find('\n');
    std::string_view line = lines.substr(0, nl);
    lines.remove_prefix(nl == std::string_view::npos ? lines.size() : nl + 1);
    if (!line.empty()) f(line);
  }
}

class JsonArrayFormatter final : public RecordFormatter {
 public:
  void records(std::string_view lines, std::string& out) override {
    each_line(lines, [&](std::string_view rec) {
      out.append(first_ ? "[\n" : ",\n");
      first_ = false;
      out.append(rec);
    });
  }
  void finish(std::string& out) override { out.append(first_ ? "[]\n" : "\n]\n"); }

 private:
  bool first_ = true;
};

class PrettyFormatter final : public RecordFormatter {
 public:
  void records(std::string_view lines, std::string& out) override {
    each_line(lines, [&](std::string_view rec) { pretty(rec, out); });
  }
  void finish(std::string&) override {}

 private:
  static std::size_t skip_space(std::string_view s, std::size_t i) {
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r' || s[i] == '\n')) ++i;
    return i;
  }
  static void indent(std::string& out, int depth) {
    out.push_back('\n');
    out.append(static_cast<std::size_t>(2 * depth), ' ');
  }
  static void pretty(std::string_view s, std::string& out) {
    int depth = 0;
    for (std::size_t i = skip_space(s, 0); i < s.size(); i = skip_space(s, i)) {
      char c = s[i];
      if (c == '"') {  // a string, copied with its escapes
        std::size_t j = i + 1;
        while (j < s.size() && s[j] != '"') j += s[j] == '\\' ? 2 : 1;
        out.append(s.substr(i, j + 1 - i));
        i = j + 1;
      } else if (c == '{' || c == '[') {
        std::size_t next = skip_space(s, i + 1);
        if (next < s.size() && s[next] == (c == '{' ? '}' : ']')) {
          out.push_back(c);
          out.push_back(s[next]);
          i = next + 1;
        } else {
          out.push_back(c);
          indent(out, ++depth);
          i = next;
        }
      } else if (c == '}' || c == ']') {
        indent(out, --depth);
        out.push_back(c);
        ++i;
      } else if (c == ',') {
        out.push_back(',');
        indent(out, depth);
        ++i;
      } else if (c == ':') {
        out.append(": ");
        ++i;
      } else {  // a number or a literal
        std::size_t j = i;
        while (j < s.size() && std::string_view(",]} \t\r\n").find(s[j]) == std::string_view::npos) ++j;
        out.append(s.substr(i, j - i));
        i = j;
      }
    }
    out.push_back('\n');
  }
};

class DelimitedFormatter final : public RecordFormatter {
 public:
  enum class Mode { kCsv, kTsv, kTable };
  DelimitedFormatter(Mode mode, bool fill, std::size_t table_rows)
      : mode_(mode), tsv_(mode == Mode::kTsv), sep_(mode == Mode::kTsv ? '\t' : ','), fill_(fill),
        table_rows_(std::max<std::size_t>(1, table_rows)) {}

  void records(std::string_view lines, std::string& out) override {
    each_line(lines, [&](std::string_view rec) { record(rec, out); });
  }
  void finish(std::string& out) override { flush_block(out); }

 private:
  void field(std::string_view s, std::string& out) const {
    if (tsv_) {
      for (char c : s) {
        switch (c) {
          case '\t': out += "\\t"; break;
          case '\n': out += "\\n"; break;
          case '\r': out += "\\r"; break;
          case '\\': out += "\\\\"; break;
          default: out.push_back(c);
        }
      }
      return;
    }
    if (s.find_first_of(",\"\r\n") == std::string_view::npos) {
      out.append(s);
      return;
    }
    out.push_back('"');
    for (char c : s) {
      if (c == '"') out.push_back('"');
      out.push_back(c);
    }
    out.push_back('"');
  }

  // A value's text in the record: strings unescaped, anything else as compact JSON.
  bool value_text(simdjson::ondemand::value v, std::string& text) {
    text.clear();
    simdjson::ondemand::json_type t;
    if (v.type().get(t)) return false;
    if (t == simdjson::ondemand::json_type::string) {
      std::string_view s;
      if (v.get_string().get(s)) return false;
      text.assign(s);
      return true;
    }
    std::string_view raw;
    if (t == simdjson::ondemand::json_type::object) {
      simdjson::ondemand::object o;
      if (v.get_object().get(o) || o.raw_json().get(raw)) return false;
    } else if (t == simdjson::ondemand::json_type::array) {
      simdjson::ondemand::array a;
      if (v.get_array().get(a) || a.raw_json().get(raw)) return false;
    } else {
      raw = v.raw_json_token();
    }
    minified_.resize(raw.size());
    std::size_t n = 0;
    if (simdjson::minify(raw.data(), raw.size(), minified_.data(), n)) return false;
    text.assign(minified_.data(), n);
    return true;
  }

  void record(std::string_view rec, std::string& out) {
    padded_.assign(rec.data(), rec.size());
    padded_.reserve(rec.size() + simdjson::SIMDJSON_PADDING);
    // keys_/values_ keep their strings from record to record (n_ are in use): no allocation per field.
    n_ = 0;
    if (!index_.empty()) index_.clear();  // (clear() walks every bucket: not for each small record)
    bool ok = true;
    simdjson::ondemand::document doc;
    simdjson::ondemand::json_type t{};
    if (parser_.iterate(padded_.data(), padded_.size(), padded_.capacity()).get(doc) || doc.type().get(t)) ok = false;
    if (ok && t == simdjson::ondemand::json_type::object) {
      simdjson::ondemand::object obj;
      if (doc.get_object().get(obj)) ok = false;
      for (auto f : obj) {
        if (!ok) break;
        simdjson::ondemand::field field;
        std::string_view key;
        if (std::move(f).get(field) || field.unescaped_key().get(key)) {
          ok = false;
          break;
        }
        // A key seen before in this record (`{"a":1,"a":2}`): one column, the last value at the
        // first one's place, as jq reads the object and Miller writes it (two columns `a,a`
        // would read back as a, a_2).
        // Past a few keys they are found by a hash (a scan per key made a record of 40,000 keys
        // take 1.6 s).
        std::size_t at = 0;
        if (n_ <= kScanKeys) {
          while (at < n_ && keys_[at] != key) ++at;
        } else {
          if (index_.size() != n_) {
            index_.clear();
            for (std::size_t i = 0; i < n_; ++i) index_.emplace(keys_[i], i);
          }
          const auto it = index_.find(key);
          at = it == index_.end() ? n_ : it->second;
        }
        if (at == n_) {
          if (n_ == keys_.size()) {
            keys_.emplace_back();
            values_.emplace_back();
          }
          keys_[n_++].assign(key);
          if (!index_.empty()) index_.emplace(keys_[at], at);
        }
        if (!value_text(field.value(), values_[at])) ok = false;
      }
    } else if (ok) {
      // Not an object: one field under the header `value`.
      // (A string as its text; anything else as compact JSON, as inside an object: `[1, 2]` was
      // written as it came, spaces and all, and ` 7` read back as the string " 7".)
      std::string_view s;
      std::size_t n = 0;
      minified_.resize(rec.size());
      if (t == simdjson::ondemand::json_type::string && !doc.get_string().get(s)) set_single(s);
      else if (!simdjson::minify(rec.data(), rec.size(), minified_.data(), n)) set_single({minified_.data(), n});
      else set_single(rec);
    }
    if (!ok) set_single(rec);  // (cannot happen: the writer's records are valid JSON) one value
    emit_row(out);
  }

  // The record in keys_/values_[0, n_): under the current header, or a new block.
  void emit_row(std::string& out) {
    if (n_ == 0) {
      // `{}`: no field to write. As Miller: a blank line (one for a run of them; none for a table
      // that starts so), and the next record starts a new header block. A header and a row of
      // nothing were written (two more blank lines, which a reader of the file skips).
      flush_block(out);
      if (!blank_last_) out.push_back('\n');
      blank_last_ = true;
      skip_separator_ = true;  // the blank line is the next block's separator
      header_.clear();
      header_index_.clear();
      return;
    }
    const std::vector<std::string>* row = &values_;
    bool same = header_written_ && header_.size() == n_;
    for (std::size_t i = 0; same && i < n_; ++i) same = header_[i] == keys_[i];
    if (!same && fill_ && header_written_ && fits_header()) {
      row = &filled_;
      same = true;
    }
    if (!same) {
      flush_block(out);
      if (mode_ != Mode::kTable) {
        if (header_written_ && !skip_separator_) out.push_back('\n');  // a new header block, as Miller writes it
        skip_separator_ = false;
        for (std::size_t i = 0; i < n_; ++i) {
          if (i) out.push_back(sep_);
          field(keys_[i], out);
        }
        if (n_ == 1 && keys_[0].empty() && mode_ == Mode::kCsv) out += "\"\"";  // (see below)
        out.push_back('\n');
      }
      header_.assign(keys_.begin(), keys_.begin() + static_cast<std::ptrdiff_t>(n_));
      header_index_.clear();
      header_written_ = true;
    }
    const std::size_t n = header_.size();
    if (mode_ == Mode::kTable) {
      block_.emplace_back(row->begin(), row->begin() + static_cast<std::ptrdiff_t>(n));
      if (block_.size() >= table_rows_) flush_block(out);
      return;
    }
    for (std::size_t i = 0; i < n; ++i) {
      if (i) out.push_back(sep_);
      field((*row)[i], out);
    }
    // One empty field would be an empty line, which a reader (ppipe's too) skips: `""`, as
    // Python's csv writes it (Miller writes the empty line; found by a bug hunt). tsv has no
    // quoting: an empty line there.
    if (n == 1 && (*row)[0].empty() && mode_ == Mode::kCsv) out += "\"\"";
    out.push_back('\n');
    blank_last_ = false;
  }

  // --fill: every key of the record is in the header: its values in the header's order in filled_.
  // Past kScanKeys header keys they are found by a hash (header_index_, made once per header).
  bool fits_header() {
    filled_.assign(header_.size(), std::string());
    if (header_.size() > kScanKeys && header_index_.empty())
      for (std::size_t i = 0; i < header_.size(); ++i) header_index_.emplace(header_[i], i);
    for (std::size_t i = 0; i < n_; ++i) {
      std::size_t at = 0;
      if (header_index_.empty()) {
        while (at < header_.size() && header_[at] != keys_[i]) ++at;
      } else {
        const auto it = header_index_.find(std::string_view(keys_[i]));
        at = it == header_index_.end() ? header_.size() : it->second;
      }
      if (at == header_.size()) return false;
      filled_[at] = values_[i];
    }
    return true;
  }

  static std::size_t width(std::string_view s) {
    std::size_t w = 0;
    for (char c : s) w += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
    return w;
  }

  // table: the rows held, aligned, under their header.
  void flush_block(std::string& out) {
    if (mode_ != Mode::kTable || block_.empty()) return;
    if (blocks_++ && !skip_separator_) out.push_back('\n');
    skip_separator_ = false;
    blank_last_ = false;
    std::vector<std::size_t> widths(header_.size(), 1);
    auto shown = [](const std::string& v) -> std::string_view { return v.empty() ? std::string_view("-") : v; };
    for (std::size_t i = 0; i < header_.size(); ++i) widths[i] = std::max(widths[i], width(shown(header_[i])));
    for (const auto& r : block_)
      for (std::size_t i = 0; i < r.size(); ++i) widths[i] = std::max(widths[i], width(shown(r[i])));
    auto line = [&](const std::vector<std::string>& cells) {
      for (std::size_t i = 0; i < cells.size(); ++i) {
        std::string_view v = shown(cells[i]);
        out.append(v);
        if (i + 1 < cells.size()) out.append(widths[i] - width(v) + 1, ' ');
      }
      out.push_back('\n');
    };
    line(header_);
    for (const auto& r : block_) line(r);
    block_.clear();
  }

  void set_single(std::string_view value) {
    if (keys_.empty()) {
      keys_.emplace_back();
      values_.emplace_back();
    }
    keys_[0] = "value";
    values_[0].assign(value);
    n_ = 1;
  }

  Mode mode_;
  bool tsv_;
  char sep_;
  bool fill_;
  std::size_t table_rows_;
  std::vector<std::string> filled_;
  std::vector<std::vector<std::string>> block_;  // table: rows held to size the columns
  std::size_t blocks_ = 0;
  simdjson::ondemand::parser parser_;
  std::string padded_, minified_;
  std::vector<std::string> keys_, values_, header_;
  std::size_t n_ = 0;
  // keys_[0, n_) by key, once a record has more than kScanKeys of them.
  struct KeyHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  static constexpr std::size_t kScanKeys = 64;
  std::unordered_map<std::string, std::size_t, KeyHash, std::equal_to<>> index_;
  // header_ by key (--fill with more than kScanKeys header keys); views into header_.
  std::unordered_map<std::string_view, std::size_t> header_index_;
  bool header_written_ = false;
  bool blank_last_ = mode_ == Mode::kTable;  // the last line out is blank (see emit_row)
  bool skip_separator_ = false;              // ... written for `{}`: the next block needs none
};

// raw (jq -r): a record that is a JSON string is written as its text, unquoted and unescaped
// (a line break in it is a line break); any other record as it is. raw0 (jq -j): the same with
// nothing after each record.
class RawFormatter final : public RecordFormatter {
 public:
  explicit RawFormatter(bool join) : join_(join) {}
  void records(std::string_view lines, std::string& out) override {
    std::size_t begin = 0;
    while (begin < lines.size()) {
      std::size_t nl = lines.find('\n', begin);
      if (nl == std::string_view::npos) nl = lines.size();
      std::string_view line = lines.substr(begin, nl - begin);
      begin = nl + 1;
      std::string_view text;
      if (!line.empty() && line[0] == '"') {
        padded_.assign(line);
        padded_.append(simdjson::SIMDJSON_PADDING, '\0');
        simdjson::dom::element e;
        if (parser_.parse(padded_.data(), line.size(), false).get(e) == simdjson::SUCCESS && e.is_string())
          text = e.get_string().value_unsafe();
        else
          text = line;
      } else {
        text = line;
      }
      out.append(text);
      if (!join_) out.push_back('\n');
    }
  }
  void finish(std::string&) override {}

 private:
  bool join_;
  simdjson::dom::parser parser_;
  std::string padded_;
};

}  // namespace

bool parse_output_format(std::string_view name, OutputFormat* out) {
  if (name == "jsonl") *out = OutputFormat::kJsonLines;
  else if (name == "json") *out = OutputFormat::kJson;
  else if (name == "pretty") *out = OutputFormat::kPretty;
  else if (name == "table") *out = OutputFormat::kTable;
  else if (name == "csv") *out = OutputFormat::kCsv;
  else if (name == "tsv") *out = OutputFormat::kTsv;
  else if (name == "raw") *out = OutputFormat::kRaw;
  else if (name == "raw0") *out = OutputFormat::kRawJoined;
  else return false;
  return true;
}

std::unique_ptr<RecordFormatter> make_formatter(const OutputOptions& o) {
  using Mode = DelimitedFormatter::Mode;
  switch (o.format) {
    case OutputFormat::kJsonLines: return nullptr;
    case OutputFormat::kJson: return std::make_unique<JsonArrayFormatter>();
    case OutputFormat::kPretty: return std::make_unique<PrettyFormatter>();
    case OutputFormat::kCsv: return std::make_unique<DelimitedFormatter>(Mode::kCsv, o.fill, o.table_rows);
    case OutputFormat::kTsv: return std::make_unique<DelimitedFormatter>(Mode::kTsv, o.fill, o.table_rows);
    case OutputFormat::kTable: return std::make_unique<DelimitedFormatter>(Mode::kTable, o.fill, o.table_rows);
    case OutputFormat::kRaw: return std::make_unique<RawFormatter>(false);
    case OutputFormat::kRawJoined: return std::make_unique<RawFormatter>(true);
  }
  return nullptr;
}

}  // namespace ppipe
