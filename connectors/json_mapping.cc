// The direct JSON writers of json_mapping.h: strings, numbers and times
// written into a buffer, the metrics lines (MetricsJsonWriter) and the
// appenders json_messages.cc writes alerts and dead letters with.

#include "connectors/json_mapping.h"

#include <cfloat>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <memory>

#include "absl/strings/str_cat.h"
#include "base/time_util.h"
#include "connectors/json_mapping_internal.h"
#include "connectors/shortest_decimal.h"

namespace ebb {
namespace {

constexpr char kHex[] = "0123456789abcdef";

constexpr char kTwoDigits[] =
    "0001020304050607080910111213141516171819"
    "2021222324252627282930313233343536373839"
    "4041424344454647484950515253545556575859"
    "6061626364656667686970717273747576777879"
    "8081828384858687888990919293949596979899";

// Room the writers may use past the end of what they write (fixed-size copies
// of short pieces).
constexpr size_t kSlack = 32;

template <size_t N>
char* PutLiteral(char* p, const char (&s)[N]) {
  std::memcpy(p, s, N - 1);
  return p + N - 1;
}

char* Put(char* p, absl::string_view s) {
  std::memcpy(p, s.data(), s.size());
  return p + s.size();
}

char* PutTwo(char* p, uint32_t v) {  // REQUIRES: v < 100
  std::memcpy(p, kTwoDigits + 2 * v, 2);
  return p + 2;
}

constexpr const auto& kPow10 = kPowersOf10;

// The number of decimal digits of v > 0.
int DigitCount(uint64_t v) {
  const int bits = 64 - __builtin_clzll(v);
  const int t = (bits * 1233) >> 12;  // floor(bits x log10(2)), or one less
  return t + (v >= kPow10[t] ? 1 : 0);
}

// Writes the `width` low decimal digits of v, leading zeros included.
char* PutDigits(char* p, uint64_t v, int width) {
  char* q = p + width;
  while (q - p >= 2) {
    q -= 2;
    std::memcpy(q, kTwoDigits + 2 * (v % 100), 2);
    v /= 100;
  }
  if (q > p) *p = static_cast<char>('0' + v % 10);
  return p + width;
}

// Writes v in decimal (digits written in place: no temporary to copy from).
char* PutUint(char* p, uint64_t v) {
  return PutDigits(p, v, v == 0 ? 1 : DigitCount(v));
}

char* PutInt(char* p, int64_t v) {
  if (v < 0) {
    *p++ = '-';
    return PutUint(p, 0 - static_cast<uint64_t>(v));
  }
  return PutUint(p, static_cast<uint64_t>(v));
}

// ---------------------------------------------------------------- strings

// The escape libprotobuf writes for code point cp (its JsonEscaping table:
// controls, '"', '\\', '<', '>', DEL, C1 controls and characters that
// JavaScript treats as line breaks or invisible format marks), or nullptr.
// `buf` holds at least 12 bytes.
absl::string_view EscapeFor(uint32_t cp, char* buf) {
  auto hex4 = [](uint32_t u, char* out) {
    out[0] = '\\';
    out[1] = 'u';
    for (int i = 5; i >= 2; --i, u >>= 4) out[i] = kHex[u & 0xf];
  };
  if (cp < 0xa0) {
    switch (cp) {
      case '"':
        return "\\\"";
      case '\\':
        return "\\\\";
      case '\b':
        return "\\b";
      case '\t':
        return "\\t";
      case '\n':
        return "\\n";
      case '\f':
        return "\\f";
      case '\r':
        return "\\r";
      default:
        if (cp < 0x20 || cp == '<' || cp == '>' || cp >= 0x7f) {
          hex4(cp, buf);
          return absl::string_view(buf, 6);
        }
        return absl::string_view();
    }
  }
  if (cp == 0xfeff || (cp >= 0xfff9 && cp <= 0xfffb) || cp == 0x00ad ||
      cp == 0x06dd || cp == 0x070f || cp == 0x17b4 || cp == 0x17b5 ||
      (cp >= 0x0600 && cp <= 0x0603) || (cp >= 0x200b && cp <= 0x200f) ||
      (cp >= 0x2028 && cp <= 0x202e) || (cp >= 0x2060 && cp <= 0x2064) ||
      (cp >= 0x206a && cp <= 0x206f)) {
    hex4(cp, buf);
    return absl::string_view(buf, 6);
  }
  if (cp == 0xe0001 || (cp >= 0x1d173 && cp <= 0x1d17a) ||
      (cp >= 0xe0020 && cp <= 0xe007f)) {
    const uint32_t v = cp - 0x10000;
    hex4(0xd800 + (v >> 10), buf);
    hex4(0xdc00 + (v & 0x3ff), buf + 6);
    return absl::string_view(buf, 12);
  }
  return absl::string_view();
}

// The length of the valid UTF-8 sequence at s[i] and its code point, or 0
// when s[i] does not start one (RFC 3629: no overlong forms, no surrogates,
// nothing past U+10FFFF).
int DecodeUtf8(absl::string_view s, size_t i, uint32_t* cp) {
  const auto byte = [&s](size_t k) { return static_cast<uint8_t>(s[k]); };
  const uint8_t b0 = byte(i);
  const size_t left = s.size() - i;
  const auto cont = [&](size_t k) {
    return k < left && (byte(i + k) & 0xc0) == 0x80;
  };
  if (b0 < 0x80) {
    *cp = b0;
    return 1;
  }
  if (b0 >= 0xc2 && b0 <= 0xdf && cont(1)) {
    *cp = (b0 & 0x1fu) << 6 | (byte(i + 1) & 0x3fu);
    return 2;
  }
  if (b0 >= 0xe0 && b0 <= 0xef && cont(1) && cont(2)) {
    const uint32_t c =
        (b0 & 0x0fu) << 12 | (byte(i + 1) & 0x3fu) << 6 | (byte(i + 2) & 0x3fu);
    if (c < 0x800 || (c >= 0xd800 && c <= 0xdfff)) return 0;
    *cp = c;
    return 3;
  }
  if (b0 >= 0xf0 && b0 <= 0xf4 && cont(1) && cont(2) && cont(3)) {
    const uint32_t c = (b0 & 0x07u) << 18 | (byte(i + 1) & 0x3fu) << 12 |
                       (byte(i + 2) & 0x3fu) << 6 | (byte(i + 3) & 0x3fu);
    if (c < 0x10000 || c > 0x10ffff) return 0;
    *cp = c;
    return 4;
  }
  return 0;
}

bool IsPlain(char c) {
  const auto u = static_cast<unsigned char>(c);
  return u >= 0x20 && u < 0x7f && c != '"' && c != '\\' && c != '<' && c != '>';
}

// Writes s quoted; REQUIRES 6 * s.size() + 2 bytes at p.
char* PutJsonString(absl::string_view s, char* p) {
  *p++ = '"';
  size_t i = 0;
  while (i < s.size()) {
    size_t plain = i;
    while (plain < s.size() && IsPlain(s[plain])) ++plain;
    p = Put(p, s.substr(i, plain - i));
    i = plain;
    if (i == s.size()) break;
    uint32_t cp = 0;
    const int n = DecodeUtf8(s, i, &cp);
    if (n == 0) {
      p = PutLiteral(p, "\\ufffd");
      ++i;
      continue;
    }
    char buf[12];
    const absl::string_view escaped = EscapeFor(cp, buf);
    p = escaped.empty() ? Put(p, s.substr(i, static_cast<size_t>(n)))
                        : Put(p, escaped);
    i += static_cast<size_t>(n);
  }
  *p++ = '"';
  return p;
}

// ---------------------------------------------------------------- numbers

constexpr size_t kMaxDouble = 32;

// Lays out a decimal d1.d2d3...dn x 10^exp10 as printf's "%.<P>g" does (fixed
// for -4 <= exp10 < P, else d.ddde+XX), without trailing zeros. REQUIRES: 40
// readable bytes at `digits` (copies are of fixed size).
char* LayoutG(bool negative, const char* digits, int n, int exp10,
              int precision, char* p) {
  if (negative) *p++ = '-';
  if (exp10 < -4 || exp10 >= precision) {
    *p++ = digits[0];
    if (n > 1) {
      *p++ = '.';
      std::memcpy(p, digits + 1, 20);
      p += n - 1;
    }
    *p++ = 'e';
    *p++ = exp10 < 0 ? '-' : '+';
    const int e = exp10 < 0 ? -exp10 : exp10;
    if (e >= 100) *p++ = static_cast<char>('0' + e / 100);
    return PutTwo(p, static_cast<uint32_t>(e % 100));
  }
  if (exp10 < 0) {
    *p++ = '0';
    *p++ = '.';
    for (int i = -1; i > exp10; --i) *p++ = '0';
    return Put(p, absl::string_view(digits, static_cast<size_t>(n)));
  }
  const int whole = exp10 + 1;
  if (n <= whole) {
    p = Put(p, absl::string_view(digits, static_cast<size_t>(n)));
    for (int i = n; i < whole; ++i) *p++ = '0';
    return p;
  }
  p = Put(p, absl::string_view(digits, static_cast<size_t>(whole)));
  *p++ = '.';
  return Put(p,
             absl::string_view(digits + whole, static_cast<size_t>(n - whole)));
}

// Decimals with at most 8 fractional digits and 15 significant ones (prices
// as files hold them), without Ryu: m / 1e8 == a means the decimal m x 1e-8
// reads back as a, and no other decimal of at most 15 significant digits
// does, so it is both the shortest form and "%.15g" (fixed notation, as
// 1e-4 <= a < 1e7). Returns nullptr, writing nothing, for other numbers.
// REQUIRES: a > 0.
char* PutShortDecimal(double a, char* p) {
  if (!(a >= 1e-4 && a < 1e7)) return nullptr;
  const auto m = static_cast<uint64_t>(a * 1e8 + 0.5);
  if (static_cast<double>(m) / 1e8 != a) return nullptr;
  int scale = 8;
  uint64_t frac = m % kPow10[8];
  const uint64_t whole = m / kPow10[8];
  if (frac == 0) return PutUint(p, whole);
  if (frac % 10000 == 0) {
    frac /= 10000;
    scale = 4;
  }
  while (frac % 10 == 0) {
    frac /= 10;
    --scale;
  }
  p = PutUint(p, whole);
  *p++ = '.';
  return PutDigits(p, frac, scale);
}

// Writes the 8 digits of v < 10^8, leading zeros included: four independent
// pairs rather than one chain of divisions.
void PutEight(char* p, uint32_t v) {
  const uint32_t high = v / 10000, low = v % 10000;
  std::memcpy(p, kTwoDigits + 2 * (high / 100), 2);
  std::memcpy(p + 2, kTwoDigits + 2 * (high % 100), 2);
  std::memcpy(p + 4, kTwoDigits + 2 * (low / 100), 2);
  std::memcpy(p + 6, kTwoDigits + 2 * (low % 100), 2);
}

// d in fixed notation ("0.000123", "12.5", "1200"), as std::to_chars lays
// out its shortest form. REQUIRES: 1e-4 <= d < 1e7 and 28 bytes at p.
char* PutFixed(ShortestDecimal d, char* p) {
  // The 19 digits of d.digits < 10^19, leading zeros included (and zeros
  // after them, for the fixed-size copies below).
  char buf[40] = {};
  PutEight(buf + 11, static_cast<uint32_t>(d.digits % 100000000));
  const uint64_t high = d.digits / 100000000;
  PutEight(buf + 3, static_cast<uint32_t>(high % 100000000));
  const auto top = static_cast<uint32_t>(high / 100000000);  // < 1000
  buf[0] = static_cast<char>('0' + top / 100);
  std::memcpy(buf + 1, kTwoDigits + 2 * (top % 100), 2);
  const int n = DigitCount(d.digits);
  const char* digits = buf + 19 - n;
  const int point = n + d.exponent;  // digits before the decimal point
  if (point <= 0) {  // 0.[0...]ddd: at most 3 zeros after the point
    std::memcpy(p, "0.000", 5);
    p += 2 - point;
    std::memcpy(p, digits, 20);
    return p + n;
  }
  std::memcpy(p, digits, 20);
  if (d.exponent >= 0) {  // an integer: at most 6 zeros after the digits
    std::memcpy(p + n, "000000", 6);
    return p + n + d.exponent;
  }
  p += point;
  *p++ = '.';
  std::memcpy(p, digits + point, 20);
  return p + n - point;
}

// The 256-entry memo of MetricsJsonWriter: doubles printed recently (a
// window's maximum drawdown and its pair repeat from event to event).
struct DoubleMemo {
  uint64_t bits = 0;
  uint8_t length = 0;
  char text[23] = {};
};

// The shortest form of a > 0 (libstdc++'s Ryu), laid out as "%.15g" lays
// out up to 15 digits and "%.17g" more; `exact`: "%.17g" itself where the
// shortest form has 16 digits (libprotobuf's digits). REQUIRES: kMaxDouble
// bytes at p.
char* PutRyu(double a, bool exact, char* p) {
  if (exact && a < DBL_MIN) {
    // Subnormals have fewer significant bits: "%.15g" can read back when the
    // shortest form is shorter, so do as SimpleDtoa does.
    char* end =
        std::to_chars(p, p + kMaxDouble, a, std::chars_format::general, 15).ptr;
    *end = '\0';
    if (std::strtod(p, nullptr) == a) return end;
    return std::to_chars(p, p + kMaxDouble, a, std::chars_format::general, 17)
        .ptr;
  }
  if (!exact) {
    ShortestDecimal d;
    if (ShortestDecimalOf(a, &d)) return PutFixed(d, p);
  }
  if (!exact && a >= 1e-4 && a < 1e15) {
    // Here "%.15g" and "%.17g" both lay out fixed, which is to_chars' fixed
    // shortest form: the same digits, no re-layout.
    return std::to_chars(p, p + kMaxDouble, a, std::chars_format::fixed).ptr;
  }
  char sci[kMaxDouble];
  const auto result =
      std::to_chars(sci, sci + sizeof(sci), a, std::chars_format::scientific);
  char digits[40];
  int n = 0, exp10 = 0;
  const char* s = sci;
  digits[n++] = *s++;
  if (*s == '.') {
    for (++s; *s != 'e'; ++s) digits[n++] = *s;
  }
  ++s;  // 'e'
  const bool negative_exp = *s++ == '-';
  for (; s < result.ptr; ++s) exp10 = exp10 * 10 + (*s - '0');
  if (negative_exp) exp10 = -exp10;
  if (n == 16 && exact) {
    return std::to_chars(p, p + kMaxDouble, a, std::chars_format::general, 17)
        .ptr;
  }
  return LayoutG(false, digits, n, exp10, n <= 15 ? 15 : 17, p);
}

// Writes v as a JSON number (or "NaN", "Infinity", "-Infinity"); see PutRyu
// for `exact`. `memo`: nullptr, or 256 entries of recent shortest forms.
char* PutDouble(double v, bool exact, char* p, DoubleMemo* memo = nullptr) {
  if (!std::isfinite(v)) {
    return std::isnan(v) ? PutLiteral(p, "\"NaN\"")
           : v > 0       ? PutLiteral(p, "\"Infinity\"")
                         : PutLiteral(p, "\"-Infinity\"");
  }
  // libprotobuf prints -0.0 as "-0", which its parser reads as 0.
  if (v == 0) {
    return std::signbit(v) ? PutLiteral(p, "-0.0") : PutLiteral(p, "0");
  }
  if (v < 0) *p++ = '-';
  const double a = std::fabs(v);
  if (char* end = PutShortDecimal(a, p)) return end;
  if (memo == nullptr) return PutRyu(a, exact, p);
  uint64_t bits;
  std::memcpy(&bits, &a, sizeof(bits));
  DoubleMemo& m = memo[(bits * 0x9e3779b97f4a7c15ULL) >> 56];
  if (m.bits != bits || m.length == 0) {
    char* end = PutRyu(a, exact, p);
    m.bits = bits;
    m.length = static_cast<uint8_t>(end - p);
    std::memcpy(m.text, p, sizeof(m.text));
    return end;
  }
  std::memcpy(p, m.text, sizeof(m.text));
  return p + m.length;
}

// ---------------------------------------------------------------- times

// A quoted RFC 3339 time. REQUIRES: seconds in years 1-9999, nanos in [0,
// 1e9).
char* PutTimestamp(int64_t seconds, int32_t nanos, char* p) {
  *p++ = '"';
  p = WriteRfc3339(seconds, nanos, p);
  *p++ = '"';
  return p;
}

// The days MetricsJsonWriter printed recently, "YYYY-MM-DDT", in 32 slots by
// day number: the times of a line (an event, its window's peak and
// max-drawdown pair) lie within the window, so with windows of up to 31 days
// they never take each other's slot.
struct DayMemo {
  int64_t day = std::numeric_limits<int64_t>::min();  // no day has this number
  char text[11] = {};
};

// t as a quoted RFC 3339 time: the date from the memo, the time of day from
// divisions by constants (multiplications).
char* PutTime(TimeNs t, char* p, DayMemo* memo) {
  int64_t seconds = t / kNanosPerSecond;
  int64_t nanos = t % kNanosPerSecond;
  if (nanos < 0) {
    --seconds;
    nanos += kNanosPerSecond;
  }
  int64_t day = seconds / 86400;
  int64_t sod = seconds % 86400;
  if (sod < 0) {
    --day;
    sod += 86400;
  }
  DayMemo& m = memo[day & 31];
  if (m.day != day) {
    WriteCivilDate(day, m.text);
    m.text[10] = 'T';
    m.day = day;
  }
  *p++ = '"';
  std::memcpy(p, m.text, sizeof(m.text));
  p += sizeof(m.text);
  const auto s = static_cast<uint32_t>(sod);
  const uint32_t hour = s / 3600;
  const uint32_t minute = (s - hour * 3600) / 60;
  const uint32_t second = s - hour * 3600 - minute * 60;
  const char hms[8] = {kTwoDigits[2 * hour],   kTwoDigits[2 * hour + 1],   ':',
                       kTwoDigits[2 * minute], kTwoDigits[2 * minute + 1], ':',
                       kTwoDigits[2 * second], kTwoDigits[2 * second + 1]};
  std::memcpy(p, hms, sizeof(hms));
  p = WriteNanosFraction(static_cast<int32_t>(nanos), p + sizeof(hms));
  *p++ = 'Z';
  *p++ = '"';
  return p;
}

// The price points MetricsJsonWriter printed recently, as
// `<price>,"time":"<time>"`: a window's peak and max-drawdown pair repeat from
// event to event until the window moves past them. 128 sets of 2 (the
// instruments' points often fall in one set, and would evict each other from
// one slot), the way not used last replaced on a miss.
struct PointMemo {
  struct Entry {
    uint64_t bits = 0;  // the price's bits
    TimeNs time = 0;
    uint8_t length = 0;  // 0: empty
    char text[72] = {};  // longest: a 24-byte price, 8, a 32-byte time
  };
  Entry sets[128][2];
  uint8_t last_used[128] = {};
};

char* PutPricePoint(double price, TimeNs time, char* p, PointMemo* memo,
                    DayMemo* days) {
  uint64_t bits;
  std::memcpy(&bits, &price, sizeof(bits));
  const uint64_t hash =
      (bits ^ static_cast<uint64_t>(time) * 0xff51afd7ed558ccdULL) *
      0x9e3779b97f4a7c15ULL;
  const size_t set = hash >> 57;
  PointMemo::Entry* const ways = memo->sets[set];
  for (uint8_t way = 0; way < 2; ++way) {
    const PointMemo::Entry& e = ways[way];
    if (e.bits == bits && e.time == time && e.length != 0) {
      memo->last_used[set] = way;
      std::memcpy(p, e.text, sizeof(e.text));
      return p + e.length;
    }
  }
  char* end = PutDouble(price, /*exact=*/false, p);
  end = PutLiteral(end, ",\"time\":");
  end = PutTime(time, end, days);
  const uint8_t way = memo->last_used[set] ^ 1;
  memo->last_used[set] = way;
  PointMemo::Entry& e = ways[way];
  e.bits = bits;
  e.time = time;
  e.length = static_cast<uint8_t>(end - p);
  std::memcpy(e.text, p, sizeof(e.text));
  return end;
}

// A quoted duration, "-1.5s". REQUIRES: as AppendValidDuration.
char* PutDuration(int64_t seconds, int32_t nanos, char* p) {
  *p++ = '"';
  if (seconds < 0 || nanos < 0) *p++ = '-';
  p = PutUint(p, seconds < 0 ? 0 - static_cast<uint64_t>(seconds)
                             : static_cast<uint64_t>(seconds));
  p = WriteNanosFraction(nanos < 0 ? -nanos : nanos, p);
  *p++ = 's';
  *p++ = '"';
  return p;
}

// ------------------------------------------------------------- appenders

// Runs `write(p)`, which writes at most `max` bytes, at the end of `out`.
template <typename F>
void AppendWith(size_t max, std::string* out, F write) {
  const size_t old = out->size();
  out->resize(old + max + kSlack);
  char* begin = &(*out)[0];
  char* end = write(begin + old);
  out->resize(static_cast<size_t>(end - begin));
}

void AppendDouble(double v, std::string* out) {
  AppendWith(kMaxDouble, out,
             [v](char* p) { return PutDouble(v, /*exact=*/true, p); });
}

}  // namespace

void AppendJsonString(absl::string_view s, std::string* out) {
  AppendWith(6 * s.size() + 2, out,
             [s](char* p) { return PutJsonString(s, p); });
}

void AppendJsonDouble(double v, std::string* out) { AppendDouble(v, out); }

namespace json_internal {

void AppendQuotedInt64(int64_t v, std::string* out) {
  AppendWith(24, out, [v](char* p) {
    *p++ = '"';
    p = PutInt(p, v);
    *p++ = '"';
    return p;
  });
}

void AppendValidTimestamp(int64_t seconds, int32_t nanos, std::string* out) {
  AppendWith(40, out, [=](char* p) { return PutTimestamp(seconds, nanos, p); });
}

void AppendValidDuration(int64_t seconds, int32_t nanos, std::string* out) {
  AppendWith(40, out, [=](char* p) { return PutDuration(seconds, nanos, p); });
}

}  // namespace json_internal

struct MetricsJsonWriter::Memo {
  DoubleMemo doubles[256];
  DayMemo days[32];
  PointMemo points;
  // The line's end for the window length last written: the same on every
  // line of a replay.
  TimeNs window_length = -1;
  uint8_t window_size = 0;
  char window_text[40] = {};
};

MetricsJsonWriter::MetricsJsonWriter() : memo_(std::make_unique<Memo>()) {}
MetricsJsonWriter::~MetricsJsonWriter() = default;

size_t MetricsJsonWriter::MaxSize(const MetricsView& view) {
  // Names and punctuation < 320, 7 doubles, 4 times, a duration, a count.
  return 6 * view.symbol.size() + 320 + 7 * kMaxDouble + 4 * 40 + 40 + 24 +
         kSlack;
}

char* MetricsJsonWriter::Write(const MetricsView& view, char* p) {
  const WindowMetrics& m = *view.metrics;
  DayMemo* const days = memo_->days;
  PointMemo* const points = &memo_->points;
  // Through memos only what repeats from line to line: the peak, the
  // max-drawdown pair and the max drawdown. The price, the drawdown and the
  // change are new on most lines.
  constexpr bool kShortest = false;
  p = PutLiteral(p, "{\"symbol\":");
  p = PutJsonString(view.symbol, p);
  p = PutLiteral(p, ",\"price\":");
  p = PutDouble(view.price, kShortest, p);
  p = PutLiteral(p, ",\"peak\":{\"price\":");
  p = PutPricePoint(m.peak.price, m.peak.time, p, points, days);
  p = PutLiteral(p, "},\"drawdown\":");
  p = PutDouble(m.drawdown, kShortest, p);
  p = PutLiteral(p, ",\"maxDrawdown\":");
  p = PutDouble(m.max_drawdown, kShortest, p, memo_->doubles);
  p = PutLiteral(p, ",\"maxDrawdownPeak\":{\"price\":");
  p = PutPricePoint(m.mdd_peak.price, m.mdd_peak.time, p, points, days);
  p = PutLiteral(p, "},\"maxDrawdownTrough\":{\"price\":");
  p = PutPricePoint(m.mdd_trough.price, m.mdd_trough.time, p, points, days);
  p = m.full_window ? PutLiteral(p, "},\"fullWindow\":true")
                    : PutLiteral(p, "},\"fullWindow\":false");
  p = PutLiteral(p, ",\"windowEntries\":\"");
  p = PutUint(p, m.entries);
  p = PutLiteral(p, "\",\"eventTime\":");
  p = PutTime(view.time, p, days);
  if (m.change.has_value()) {
    p = PutLiteral(p, ",\"change\":");
    p = PutDouble(*m.change, kShortest, p);
  }
  if (view.window_length != memo_->window_length) {
    char* q = PutLiteral(memo_->window_text, ",\"window\":");
    // ToDuration's split: seconds and nanos of the sign of the length.
    q = PutDuration(view.window_length / kNanosPerSecond,
                    static_cast<int32_t>(view.window_length % kNanosPerSecond),
                    q);
    *q++ = '}';
    memo_->window_size = static_cast<uint8_t>(q - memo_->window_text);
    memo_->window_length = view.window_length;
  }
  std::memcpy(p, memo_->window_text, sizeof(memo_->window_text));
  return p + memo_->window_size;
}

void MetricsJsonWriter::Append(const MetricsView& view, std::string* out) {
  AppendWith(MaxSize(view), out,
             [this, &view](char* p) { return Write(view, p); });
}

}  // namespace ebb
