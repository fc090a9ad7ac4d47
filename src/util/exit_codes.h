// Exit codes of ppipe (documented in the README). main alone exits; the CLI returns kExitUsage and
// kExitOk (help) to it.
#pragma once

namespace ppipe {

constexpr int kExitOk = 0;
constexpr int kExitRecordErrors = 1;
constexpr int kExitUsage = 2;
constexpr int kExitFatal = 3;
constexpr int kExitSigint = 130;
constexpr int kExitSigterm = 143;

// What each code means, for the man page (src/cli/docgen.cpp).
struct ExitCodeDoc {
  int code;
  const char* meaning;
};
inline constexpr ExitCodeDoc kExitCodeDocs[] = {
    {kExitOk, "success, no record errors (also when the reader of the output went away: ppipe f | head -1)"},
    {kExitRecordErrors, "finished, but some records went to the error stream"},
    {kExitUsage, "usage error (bad option, unknown stage, bad expression, bad config file, an output that is "
                 "also an input): nothing was read"},
    {kExitFatal, "fatal I/O error (cannot open an input, cannot write the output, the error stream or the "
                 "--stats line: e.g. disk full), --max-errors reached, a "
                 "memory guard (--max-groups, --max-values, --collect-limit), or out of memory (what came before "
                 "it is written)"},
    {kExitSigint, "interrupted by SIGINT (what was finished was written and flushed)"},
    {kExitSigterm, "interrupted by SIGTERM (what was finished was written and flushed)"},
};

}  // namespace ppipe
