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

}  // namespace ppipe
