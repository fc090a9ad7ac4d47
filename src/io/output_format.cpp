#include "src/io/output_format.h"

#include <simdjson.h>

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

class DelimitedFormatter final : public RecordFormatter {
 public:
  explicit DelimitedFormatter(bool tsv) : tsv_(tsv), sep_(tsv ? '\t' : ',') {}

  void records(std::string_view lines, std::string& out) override {
    each_line(lines, [&](std::string_view rec) { record(rec, out); });
  }
  void finish(std::string&) override {}

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
        if (n_ == keys_.size()) {
          keys_.emplace_back();
          values_.emplace_back();
        }
        keys_[n_].assign(key);
        if (!value_text(field.value(), values_[n_])) ok = false;
        ++n_;
      }
    } else if (ok) {
      // Not an object: one field under the header `value`.
      std::string_view s;
      set_single(t == simdjson::ondemand::json_type::string && !doc.get_string().get(s) ? s : rec);
    }
    if (!ok) set_single(rec);  // (cannot happen: the writer's records are valid JSON) one value
    bool same = header_written_ && header_.size() == n_;
    for (std::size_t i = 0; same && i < n_; ++i) same = header_[i] == keys_[i];
    if (!same) {
      if (header_written_) out.push_back('\n');  // a new header block, as Miller writes it
      header_.assign(keys_.begin(), keys_.begin() + static_cast<std::ptrdiff_t>(n_));
      header_written_ = true;
      for (std::size_t i = 0; i < n_; ++i) {
        if (i) out.push_back(sep_);
        field(header_[i], out);
      }
      out.push_back('\n');
    }
    for (std::size_t i = 0; i < n_; ++i) {
      if (i) out.push_back(sep_);
      field(values_[i], out);
    }
    out.push_back('\n');
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

  bool tsv_;
  char sep_;
  simdjson::ondemand::parser parser_;
  std::string padded_, minified_;
  std::vector<std::string> keys_, values_, header_;
  std::size_t n_ = 0;
  bool header_written_ = false;
};

}  // namespace

bool parse_output_format(std::string_view name, OutputFormat* out) {
  if (name == "jsonl") *out = OutputFormat::kJsonLines;
  else if (name == "json") *out = OutputFormat::kJson;
  else if (name == "csv") *out = OutputFormat::kCsv;
  else if (name == "tsv") *out = OutputFormat::kTsv;
  else return false;
  return true;
}

std::unique_ptr<RecordFormatter> make_formatter(OutputFormat format) {
  switch (format) {
    case OutputFormat::kJsonLines: return nullptr;
    case OutputFormat::kJson: return std::make_unique<JsonArrayFormatter>();
    case OutputFormat::kCsv: return std::make_unique<DelimitedFormatter>(false);
    case OutputFormat::kTsv: return std::make_unique<DelimitedFormatter>(true);
  }
  return nullptr;
}

}  // namespace ppipe
