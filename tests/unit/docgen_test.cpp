#include <catch2/catch.hpp>

#include <string>

#include "src/cli/docgen.h"
#include "src/cli/markdown.h"
#include "src/cli/options.h"
#include "stages/registry.h"

using namespace ppipe;

TEST_CASE("docgen: the man page and every completion name every option of the command line", "[docgen]") {
  const std::string man = man_page();
  std::string error;
  const std::string shells[] = {"bash", "zsh", "fish"};
  auto docs = option_docs();
  REQUIRE(docs.size() > 20);
  for (const OptionDoc& d : docs) {
    for (const std::string& name : d.names) {
      INFO(name);
      // roff writes each '-' as '\-'.
      std::string roff;
      for (char c : name) roff += c == '-' ? std::string("\\-") : std::string(1, c);
      CHECK(man.find("\\fB" + roff + "\\fP") != std::string::npos);
      for (const std::string& shell : shells) {
        std::string script = completion_script(shell, &error);
        INFO(shell);
        std::string as_written = name;
        if (shell == "fish") as_written = name.size() == 2 ? "-s " + name.substr(1) : "-l " + name.substr(2);
        CHECK(script.find(as_written) != std::string::npos);
      }
    }
  }
  for (const StageInfo* st : stage_table()) {
    INFO(st->name);
    CHECK(man.find(std::string(".SS ") + st->name + "\n") != std::string::npos);
    for (const std::string& shell : shells) CHECK(completion_script(shell, &error).find(st->name) != std::string::npos);
  }
  CHECK(completion_script("tcsh", &error).empty());
  CHECK(error == "no completion for shell 'tcsh': bash, zsh or fish");
}

TEST_CASE("docgen: Markdown as roff", "[docgen]") {
  std::string md =
      "# Title\n"
      "Text with `--filter .a` and **bold**, a [link](https://x) and a \\* star.\n"
      ".starts with a dot\n"
      "\n"
      "## Section\n"
      "```\n"
      "ppipe --head 1 \\\n"
      "```\n"
      "| op | assoc |\n"
      "|---|---|\n"
      "| `\\|` | right |\n"
      "- item\n"
      "<!-- contributors -->\n"
      "hidden\n";
  CHECK(render_markdown_for_man(md) ==
        "Text with \\fB\\-\\-filter .a\\fP and \\fBbold\\fP, a link (https://x) and a * star.\n"
        "\\&.starts with a dot\n"
        ".SS Section\n"
        ".RS 4\n.nf\n"
        "ppipe \\-\\-head 1 \\e\n"
        ".fi\n.RE\n"
        ".PP\n"
        ".TP\n\\fB|\\fP\nright\n"
        ".PP\n"
        ".IP \\(bu 2\nitem\n");
}

TEST_CASE("docgen: a code span over two lines, and the first paragraph's lines, in roff", "[docgen]") {
  // Rendered a line at a time, a code span that goes on to the next line lost characters
  // ("reduce SOURCE as $"), and the first paragraph's second line began a new paragraph.
  std::string md =
      "# Title\n"
      "\n"
      "First line of `reduce SOURCE as $x\n"
      "  (INIT; UPDATE)` and more,\n"
      "second line.\n"
      "\n"
      "- an item with `a |\n"
      "  b` in it\n"
      "Next `x`.\n";
  CHECK(render_markdown_for_man(md) ==
        "First line of \\fBreduce SOURCE as $x (INIT; UPDATE)\\fP and more,\n"
        "second line.\n"
        ".IP \\(bu 2\nan item with \\fBa | b\\fP in it\n"
        ".PP\n"
        "Next \\fBx\\fP.\n");
  // An item's indented second line goes on with the item (it was a paragraph at the margin).
  CHECK(render_markdown_for_man("- item one\n  continued\n- two\n\n  after a blank line\n") ==
        ".IP \\(bu 2\nitem one\ncontinued\n.IP \\(bu 2\ntwo\n.PP\nafter a blank line\n");
}
