#include "stages/agg/agg_spec.h"

#include <cctype>

#include <fmt/format.h>

namespace ppipe::agg {

namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
bool is_name_start(char c) { return std::isalpha(static_cast<unsigned char>(c)) || c == '_'; }
bool is_name_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

// Calls f(i, depth) for each byte outside strings; returns false on unbalanced text.
template <typename F>
bool scan(std::string_view s, F f) {
  int depth = 0;
  bool in_string = false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (in_string) {
      if (c == '\\') ++i;
      else if (c == '"') in_string = false;
      continue;
    }
    if (c == '"') {
      in_string = true;
      continue;
    }
    if (c == '(' || c == '[' || c == '{') ++depth;
    if (c == ')' || c == ']' || c == '}') --depth;
    if (depth < 0) return false;
    f(i, depth);
  }
  return depth == 0 && !in_string;
}

// A JSON-ish string literal at s[i] ('"'): its content (simple escapes only), and the index past it.
std::optional<std::pair<std::string, std::size_t>> string_at(std::string_view s, std::size_t i) {
  std::string out;
  for (++i; i < s.size(); ++i) {
    char c = s[i];
    if (c == '"') return std::make_pair(out, i + 1);
    if (c == '\\') {
      if (++i >= s.size()) return std::nullopt;
      char e = s[i];
      if (e == 'n') out += '\n';
      else if (e == 't') out += '\t';
      else if (e == '"' || e == '\\' || e == '/') out += e;
      else return std::nullopt;  // \u and friends: ask for `as`
    } else {
      out += c;
    }
  }
  return std::nullopt;
}

}  // namespace

std::optional<std::vector<std::string>> split_top_level(std::string_view list, std::string* error) {
  std::vector<std::string> out;
  if (trim(list).empty()) return out;
  std::vector<std::size_t> cuts;
  if (!scan(list, [&](std::size_t i, int depth) {
        if (depth == 0 && list[i] == ',') cuts.push_back(i);
      })) {
    *error = fmt::format("unbalanced brackets or quotes in '{}'", list);
    return std::nullopt;
  }
  std::size_t from = 0;
  cuts.push_back(list.size());
  for (std::size_t cut : cuts) {
    std::string_view item = trim(list.substr(from, cut - from));
    if (item.empty()) {
      *error = fmt::format("empty item in the list '{}'", list);
      return std::nullopt;
    }
    out.emplace_back(item);
    from = cut + 1;
  }
  return out;
}

std::pair<std::string, std::string> split_as(std::string_view item) {
  item = trim(item);
  // `as "any name"`: a string literal that ends the item, after the word `as` outside brackets
  // and strings (a name that is not a word: the spec of a partial writes a default name so).
  if (!item.empty() && item.back() == '"') {
    for (std::size_t q = 0; q < item.size(); ++q) {
      if (item[q] != '"' || q < 4 || !is_space(item[q - 1])) continue;
      auto str = string_at(item, q);
      if (!str || str->second != item.size()) continue;
      std::size_t j = q;
      while (j > 0 && is_space(item[j - 1])) --j;
      if (j < 3 || item.substr(j - 2, 2) != "as" || !is_space(item[j - 3])) continue;
      std::string_view before = item.substr(0, j - 2);
      if (trim(before).empty() || !scan(before, [](std::size_t, int) {})) continue;
      return {std::string(trim(before)), str->first};
    }
  }
  // The last word must be a name, preceded by the word `as` outside brackets and strings.
  std::size_t end = item.size(), i = end;
  while (i > 0 && is_name_char(item[i - 1])) --i;
  if (i == end || !is_name_start(item[i])) return {std::string(item), ""};
  std::string_view name = item.substr(i);
  std::size_t j = i;
  while (j > 0 && is_space(item[j - 1])) --j;
  if (j == i || j < 2 || item.substr(j - 2, 2) != "as") return {std::string(item), ""};
  std::size_t as_begin = j - 2;
  if (as_begin == 0 || !is_space(item[as_begin - 1])) return {std::string(item), ""};
  std::string_view before = item.substr(0, as_begin);
  // `as` must be outside brackets and strings: the part before it must be balanced.
  if (!scan(before, [](std::size_t, int) {})) return {std::string(item), ""};
  return {std::string(trim(before)), std::string(name)};
}

std::string spec_name(std::string_view name) {
  bool word = !name.empty() && is_name_start(name[0]);
  for (char c : name) word = word && is_name_char(c);
  if (word) return std::string(name);
  std::string out = "\"";
  for (char c : name) {
    if (c == '"' || c == '\\') out += '\\', out += c;
    else if (c == '\n') out += "\\n";
    else if (c == '\t') out += "\\t";
    else out += c;
  }
  out += '"';
  return out;
}

std::string last_path_name(std::string_view expr) {
  std::string_view s = trim(expr);
  if (s.empty() || s[0] != '.' || s == ".") return "";
  std::string last;
  std::size_t i = 0;
  while (i < s.size()) {
    if (s[i] == '.') {
      ++i;
      if (i < s.size() && is_name_start(s[i])) {
        std::size_t b = i;
        while (i < s.size() && is_name_char(s[i])) ++i;
        last.assign(s.substr(b, i - b));
        continue;
      }
      if (i < s.size() && s[i] == '"') {
        auto str = string_at(s, i);
        if (!str) return "";
        last = str->first;
        i = str->second;
        continue;
      }
      if (i < s.size() && s[i] == '[') continue;  // .["x"]
      return "";
    }
    if (s[i] == '[') {
      if (i + 1 >= s.size() || s[i + 1] != '"') return "";
      auto str = string_at(s, i + 1);
      if (!str || str->second >= s.size() || s[str->second] != ']') return "";
      last = str->first;
      i = str->second + 1;
      continue;
    }
    return "";
  }
  return last;
}

std::optional<std::vector<KeySpec>> parse_group_by(std::string_view list, std::string* error,
                                                   const ExpressionCheck& check) {
  auto items = split_top_level(list, error);
  if (!items) {
    *error = "--group-by: " + *error;
    return std::nullopt;
  }
  std::vector<KeySpec> out;
  for (const auto& item : *items) {
    auto [expr, name] = split_as(item);
    if (check && !check(expr, error)) return std::nullopt;
    if (name.empty()) name = last_path_name(expr);
    if (name.empty()) {
      *error = fmt::format("--group-by: '{}' needs a name: write '{} as NAME'", expr, expr);
      return std::nullopt;
    }
    for (const auto& k : out)
      if (k.name == name) {
        *error = fmt::format("--group-by: two keys named '{}': name one with 'as NAME'", name);
        return std::nullopt;
      }
    out.push_back({expr, name});
  }
  return out;
}

std::optional<std::vector<AggItemSpec>> parse_agg_list(std::string_view list, std::uint64_t collect_limit,
                                                       std::string* error, const ExpressionCheck& check) {
  auto items = split_top_level(list, error);
  if (!items) {
    *error = "--agg: " + *error;
    return std::nullopt;
  }
  if (items->empty()) {
    *error = "--agg: no aggregate given (e.g. --agg 'count, avg(.latency_ms)')";
    return std::nullopt;
  }
  std::vector<AggItemSpec> out;
  for (const auto& item : *items) {
    auto [text, name] = split_as(item);
    // name or name(EXPR)
    std::size_t i = 0;
    while (i < text.size() && (is_name_char(text[i]) || text[i] == '.')) ++i;
    std::string agg_name = text.substr(0, i);
    std::string rest(trim(std::string_view(text).substr(i)));
    std::string arg;
    if (!rest.empty()) {
      if (rest.front() != '(' || rest.back() != ')') {
        *error = fmt::format("--agg: '{}' is not an aggregate: write NAME or NAME(EXPR), e.g. avg(.latency_ms)", text);
        return std::nullopt;
      }
      arg = std::string(trim(std::string_view(rest).substr(1, rest.size() - 2)));
      if (arg.empty()) {
        *error = fmt::format("--agg: '{}' has an empty argument", text);
        return std::nullopt;
      }
    }
    std::string agg_error;
    auto spec = parse_aggregate_name(agg_name, &agg_error);
    if (!spec) {
      *error = "--agg: " + agg_error;
      return std::nullopt;
    }
    if (spec->kind == AggregateKind::kCount && !arg.empty()) spec->kind = AggregateKind::kCountValues;
    if (spec->kind != AggregateKind::kCount && arg.empty()) {
      *error = fmt::format("--agg: {} needs an argument, e.g. {}(.latency_ms)", agg_name, agg_name);
      return std::nullopt;
    }
    spec->collect_limit = collect_limit;
    if (check && !arg.empty() && !check(arg, error)) return std::nullopt;
    if (name.empty()) {
      if (arg.empty()) {
        name = agg_name;
      } else {
        std::string last = last_path_name(arg);
        if (last.empty()) {
          *error = fmt::format("--agg: '{}' needs a name: write '{} as NAME'", text, text);
          return std::nullopt;
        }
        name = agg_name + "_" + last;
      }
    }
    out.push_back({*spec, arg, name, text});
  }
  return out;
}

}  // namespace ppipe::agg
