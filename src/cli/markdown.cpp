#include "src/cli/markdown.h"

#include <algorithm>
#include <cctype>
#include <string>
#include <vector>

#include "src/util/text_util.h"

namespace ppipe {

namespace {

// Terminal columns of a line: code points (close enough for the docs' text).
std::size_t display_width(std::string_view s) {
  std::size_t n = 0;
  for (char c : s)
    if ((static_cast<unsigned char>(c) & 0xC0) != 0x80) ++n;
  return n;
}

bool is_md_punct(char c) { return std::ispunct(static_cast<unsigned char>(c)) != 0; }

// Where inline Markdown goes: plain text for a terminal (code spans keep their backticks), or roff
// for the man page (code and **strong** in bold, *emphasis* in italics, text escaped).
enum class Target { kTerminal, kRoff };

void put_text(std::string& out, std::string_view text, Target target) {
  if (target == Target::kTerminal) {
    out.append(text);
    return;
  }
  for (char c : text) {
    if (c == '\\') out += "\\e";
    else if (c == '-') out += "\\-";  // a minus, so that options can be copied from the page
    else out.push_back(c);
  }
}

void put_font(std::string& out, const char* roff, Target target) {
  if (target == Target::kRoff) out += roff;
}

// Inline Markdown outside `code` spans: emphasis stars, links and backslash escapes. Code spans
// keep their text untouched.
std::string render_inline(std::string_view s, Target target) {
  std::string out;
  std::size_t i = 0;
  while (i < s.size()) {
    char c = s[i];
    if (c == '`') {
      std::size_t close = s.find('`', i + 1);
      if (close == std::string_view::npos) close = s.size() - 1;
      if (target == Target::kTerminal) {
        out.append(s.substr(i, close - i + 1));
      } else {
        out += "\\fB";
        put_text(out, s.substr(i + 1, close > i ? close - i - 1 : 0), target);
        out += "\\fP";
      }
      i = close + 1;
      continue;
    }
    if (c == '\\' && i + 1 < s.size() && is_md_punct(s[i + 1])) {
      put_text(out, s.substr(i + 1, 1), target);
      i += 2;
      continue;
    }
    if (c == '*') {
      // **strong** or *emphasis*: an opening run followed by a non-space, closed by the same run
      // after a non-space, on this line. `a * b` (spaces around) stays.
      std::size_t run = (i + 1 < s.size() && s[i + 1] == '*') ? 2 : 1;
      std::string_view marker = s.substr(i, run);
      std::size_t start = i + run;
      if (start < s.size() && s[start] != ' ' && s[start] != '*') {
        std::size_t close = s.find(marker, start + 1);
        // Not closed after a space, and never across a code span.
        if (close != std::string_view::npos &&
            (s[close - 1] == ' ' || s.substr(start, close - start).find('`') != std::string_view::npos))
          close = std::string_view::npos;
        if (close != std::string_view::npos) {
          put_font(out, run == 2 ? "\\fB" : "\\fI", target);
          out += render_inline(s.substr(start, close - start), target);
          put_font(out, "\\fP", target);
          i = close + run;
          continue;
        }
      }
      put_text(out, s.substr(i, 1), target);
      ++i;
      continue;
    }
    if (c == '[') {
      // [text](url), text without brackets or backticks, url without spaces.
      std::size_t mid = s.find("](", i + 1);
      std::size_t end = mid == std::string_view::npos ? mid : s.find(')', mid + 2);
      if (end != std::string_view::npos) {
        std::string_view text = s.substr(i + 1, mid - i - 1);
        std::string_view url = s.substr(mid + 2, end - mid - 2);
        if (text.find_first_of("[]`") == std::string_view::npos && !url.empty() &&
            url.find_first_of(" `") == std::string_view::npos) {
          out += render_inline(text, target);
          if (text != url) {
            out += " (";
            put_text(out, url, target);
            out += ")";
          }
          i = end + 1;
          continue;
        }
      }
    }
    put_text(out, s.substr(i, 1), target);
    ++i;
  }
  return out;
}

// Cells of a table row: split at '|' not escaped by a backslash; `\|` becomes '|' everywhere,
// code spans included (GitHub's rule for tables).
std::vector<std::string> table_cells(std::string_view line, Target target) {
  std::vector<std::string> cells;
  std::string cur;
  for (std::size_t i = 0; i < line.size(); ++i) {
    if (line[i] == '\\' && i + 1 < line.size() && line[i + 1] == '|') {
      cur.push_back('|');
      ++i;
    } else if (line[i] == '|') {
      cells.push_back(cur);
      cur.clear();
    } else {
      cur.push_back(line[i]);
    }
  }
  cells.push_back(cur);
  // The leading and trailing pipes leave an empty cell at each end.
  if (!cells.empty() && cells.front().find_first_not_of(' ') == std::string::npos) cells.erase(cells.begin());
  if (!cells.empty() && cells.back().find_first_not_of(' ') == std::string::npos) cells.pop_back();
  for (auto& cell : cells) {
    std::size_t b = cell.find_first_not_of(' ');
    std::size_t e = cell.find_last_not_of(' ');
    cell = b == std::string::npos ? std::string() : render_inline(std::string_view(cell).substr(b, e - b + 1), target);
  }
  return cells;
}

bool is_delimiter_row(const std::vector<std::string>& cells) {
  if (cells.empty()) return false;
  for (const auto& c : cells)
    if (c.empty() || c.find_first_not_of("-: ") != std::string::npos) return false;
  return true;
}

// Appends `text` wrapped at `width` columns: the first line after `first`, the others after
// `indent`. Breaks only at spaces outside code spans, so a command is never cut in two.
void append_wrapped(std::string& out, std::string_view first, std::string_view indent, std::string_view text,
                    std::size_t width) {
  std::string line(first);
  std::size_t line_width = display_width(first);
  const std::size_t indent_width = display_width(indent);
  bool fresh = true;  // nothing but the prefix on this line yet
  std::size_t i = 0;
  while (i < text.size()) {
    // The next word: up to a space outside backticks.
    std::size_t j = i;
    bool in_code = false;
    while (j < text.size() && (in_code || text[j] != ' ')) {
      if (text[j] == '`') in_code = !in_code;
      ++j;
    }
    std::string_view word = text.substr(i, j - i);
    std::size_t w = display_width(word);
    if (!fresh && line_width + 1 + w > width) {
      out += line + "\n";
      line.assign(indent);
      line_width = indent_width;
      fresh = true;
    }
    if (!fresh) {
      line.push_back(' ');
      ++line_width;
    }
    line.append(word);
    line_width += w;
    fresh = false;
    i = j;
    while (i < text.size() && text[i] == ' ') ++i;
  }
  out += line + "\n";
}

constexpr std::size_t kTerminalWidth = 100;

void render_table(std::string& out, const std::vector<std::vector<std::string>>& rows) {
  // rows[0] is the header; the delimiter row is already gone.
  std::size_t ncols = 0;
  for (const auto& r : rows) ncols = std::max(ncols, r.size());
  std::vector<std::size_t> widths(ncols, 0);
  for (const auto& r : rows)
    for (std::size_t c = 0; c < r.size(); ++c) widths[c] = std::max(widths[c], display_width(r[c]));
  std::size_t total = 2;
  for (std::size_t w : widths) total += w + 2;
  if (total <= kTerminalWidth) {
    for (std::size_t r = 0; r < rows.size(); ++r) {
      std::string line = "  ";
      for (std::size_t c = 0; c < ncols; ++c) {
        std::string cell = c < rows[r].size() ? rows[r][c] : std::string();
        line += cell;
        if (c + 1 < ncols) line.append(widths[c] + 2 - display_width(cell), ' ');
      }
      while (!line.empty() && line.back() == ' ') line.pop_back();
      out += line + "\n";
      if (r == 0) {
        line = "  ";
        for (std::size_t c = 0; c < ncols; ++c) {
          line.append(widths[c], '-');
          if (c + 1 < ncols) line += "  ";
        }
        out += line + "\n";
      }
    }
    return;
  }
  // Too wide: one block per row, the first cell as its title.
  const auto& header = rows[0];
  for (std::size_t r = 1; r < rows.size(); ++r) {
    const auto& row = rows[r];
    if (row.empty()) continue;
    if (r > 1) out += "\n";
    append_wrapped(out, "  ", "      ", row[0], kTerminalWidth);
    for (std::size_t c = 1; c < row.size(); ++c) {
      if (row[c].empty()) continue;
      std::string label = c < header.size() && !header[c].empty() ? header[c] + ": " : std::string();
      append_wrapped(out, "      " + label, "        ", row[c], kTerminalWidth);
    }
  }
}

bool starts_with(std::string_view s, std::string_view prefix) { return s.substr(0, prefix.size()) == prefix; }

}  // namespace

// A line of roff text: one starting with '.' or '\'' would be read as a request.
std::string roff_line(std::string text) {
  if (!text.empty() && (text[0] == '.' || text[0] == '\'')) text.insert(0, "\\&");
  return text + "\n";
}

std::string roff_escape(std::string_view text) {
  std::string out;
  put_text(out, text, Target::kRoff);
  return out;
}

std::string render_markdown_for_man(std::string_view md) {
  std::vector<std::string_view> lines = split_lines(md);
  std::string out;
  bool in_fence = false;
  bool paragraph_open = false;  // text since the last paragraph break
  bool item_open = false;       // the last text was a list item's
  auto paragraph = [&] {
    if (paragraph_open) out += ".PP\n";
    paragraph_open = false;
  };
  for (std::size_t i = 0; i < lines.size(); ++i) {
    std::string_view line = lines[i];
    if (starts_with(line, "```")) {
      item_open = false;
      if (!in_fence) {
        paragraph();
        out += ".RS 4\n.nf\n";
      } else {
        out += ".fi\n.RE\n";
        paragraph_open = true;
      }
      in_fence = !in_fence;
      continue;
    }
    if (in_fence) {
      out += roff_line(roff_escape(line));
      continue;
    }
    if (starts_with(line, "<!-- contributors")) {
      while (i + 1 < lines.size() && !starts_with(lines[i + 1], "<!-- /contributors")) ++i;
      ++i;
      continue;
    }
    if (starts_with(line, "<!--") && line.size() >= 7 && line.substr(line.size() - 3) == "-->") continue;
    if (starts_with(line, "#")) {
      std::size_t level = line.find_first_not_of('#');
      if (level != std::string_view::npos && line[level] == ' ') {
        item_open = false;
        if (level == 1) continue;  // the document's title: the man page's section names it
        std::string title = render_inline(line.substr(level + 1), Target::kRoff);
        out += level == 2 ? ".SS " + title + "\n" : ".PP\n" + roff_line("\\fB" + title + "\\fP") + ".br\n";
        paragraph_open = false;
        continue;
      }
    }
    if (starts_with(line, "|")) {
      item_open = false;
      // One tagged paragraph per row: the first cell as its tag, the others "header: cell".
      std::vector<std::vector<std::string>> rows;
      for (; i < lines.size() && starts_with(lines[i], "|"); ++i) {
        if (rows.size() == 1 && is_delimiter_row(table_cells(lines[i], Target::kTerminal))) continue;
        auto cells = table_cells(lines[i], Target::kRoff);
        rows.push_back(std::move(cells));
      }
      --i;
      paragraph();
      const auto& header = rows[0];
      for (std::size_t r = 1; r < rows.size(); ++r) {
        if (rows[r].empty()) continue;
        out += ".TP\n" + roff_line(rows[r][0]);
        bool first = true;
        for (std::size_t c = 1; c < rows[r].size(); ++c) {
          if (rows[r][c].empty()) continue;
          if (!first) out += ".br\n";
          first = false;
          std::string label = header.size() > 2 && c < header.size() ? header[c] + ": " : std::string();
          out += roff_line(label + rows[r][c]);
        }
      }
      out += ".PP\n";
      paragraph_open = false;
      continue;
    }
    std::size_t text = line.find_first_not_of(' ');
    if (text == std::string_view::npos) {
      paragraph_open = true;
      item_open = false;
      continue;
    }
    // A code span may go on to the next line (Markdown joins a paragraph's lines): rendered one
    // line at a time its backticks did not pair, and characters were lost ("reduce SOURCE as $").
    // The lines that complete it are taken with it.
    std::string joined(line.substr(text));
    while (std::count(joined.begin(), joined.end(), '`') % 2 == 1 && i + 1 < lines.size()) {
      const std::string_view next = lines[i + 1];
      const std::size_t t = next.find_first_not_of(' ');
      if (t == std::string_view::npos || starts_with(next, "#") || starts_with(next, "|") ||
          starts_with(next, "```") || next.substr(t, 2) == "- " || next.substr(t, 2) == "* ")
        break;
      joined += ' ';
      joined += next.substr(t);
      ++i;
    }
    if (joined.substr(0, 2) == "- " || joined.substr(0, 2) == "* ") {
      out += ".IP \\(bu 2\n" + roff_line(render_inline(std::string_view(joined).substr(2), Target::kRoff));
      paragraph_open = true;
      item_open = true;
      continue;
    }
    // An indented line right after an item's goes on with the item (it began a paragraph of its
    // own at the left margin).
    if (item_open && text > 0) {
      out += roff_line(render_inline(joined, Target::kRoff));
      continue;
    }
    item_open = false;
    // A paragraph after a blank line; not before the first text (".PP" there made the second line
    // of the first paragraph a new one).
    if (paragraph_open) {
      if (!out.empty() && (out.size() < 4 || out.substr(out.size() - 4) != ".PP\n")) out += ".PP\n";
      paragraph_open = false;
    }
    out += roff_line(render_inline(joined, Target::kRoff));
  }
  return out;
}

std::string render_markdown_for_terminal(std::string_view md) {
  std::vector<std::string_view> lines = split_lines(md);
  std::string out;
  bool in_fence = false;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    std::string_view line = lines[i];
    if (starts_with(line, "```")) {
      in_fence = !in_fence;
      continue;
    }
    if (in_fence) {
      out += line.empty() ? std::string("\n") : "    " + std::string(line) + "\n";
      continue;
    }
    if (starts_with(line, "<!-- contributors")) {
      while (i + 1 < lines.size() && !starts_with(lines[i + 1], "<!-- /contributors")) ++i;
      ++i;  // the closing marker, if any
      continue;
    }
    if (starts_with(line, "<!--") && line.size() >= 7 && line.substr(line.size() - 3) == "-->") continue;
    if (starts_with(line, "#")) {
      std::size_t level = line.find_first_not_of('#');
      if (level != std::string_view::npos && line[level] == ' ') {
        std::string title = render_inline(line.substr(level + 1), Target::kTerminal);
        out += title + "\n";
        if (level <= 2) out += std::string(display_width(title), level == 1 ? '=' : '-') + "\n";
        continue;
      }
    }
    if (starts_with(line, "|")) {
      std::vector<std::vector<std::string>> rows;
      for (; i < lines.size() && starts_with(lines[i], "|"); ++i) {
        auto cells = table_cells(lines[i], Target::kTerminal);
        if (rows.size() == 1 && is_delimiter_row(cells)) continue;
        rows.push_back(std::move(cells));
      }
      --i;
      render_table(out, rows);
      continue;
    }
    out += render_inline(line, Target::kTerminal) + "\n";
  }
  // One blank line between blocks at most, none at the end.
  std::string tidy;
  for (std::size_t i = 0; i < out.size(); ++i) {
    if (out[i] == '\n' && tidy.size() >= 2 && tidy[tidy.size() - 1] == '\n' && tidy[tidy.size() - 2] == '\n') continue;
    tidy.push_back(out[i]);
  }
  while (tidy.size() >= 2 && tidy[tidy.size() - 1] == '\n' && tidy[tidy.size() - 2] == '\n') tidy.pop_back();
  return tidy;
}

}  // namespace ppipe
