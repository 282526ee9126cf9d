// Money is a decimal string with exactly the currency's minor digits ("12.50"): kept as
// integer minor units (BigInt) for arithmetic, formatted by Intl.NumberFormat from the
// exact string. No float ever holds an amount.

export function minorDigits(currency) {
  return new Intl.NumberFormat("en", { style: "currency", currency }).resolvedOptions()
    .maximumFractionDigits;
}

export function toMinor(amount) {
  const negative = amount.startsWith("-");
  const [whole, fraction = ""] = amount.replace("-", "").split(".");
  const minor = BigInt(whole + fraction);
  return negative ? -minor : minor;
}

export function formatMoney(money) {
  if (!money) return "—";
  const digits = minorDigits(money.currency);
  // Intl.NumberFormat formats a decimal string exactly (no conversion to a Number).
  return new Intl.NumberFormat(undefined, {
    style: "currency",
    currency: money.currency,
    minimumFractionDigits: digits,
    maximumFractionDigits: digits,
  }).format(money.amount);
}

// The share of `part` in `whole`, in tenths of a percent, as a Number for CSS widths.
export function shareOf(part, whole) {
  const total = toMinor(whole.amount);
  if (total <= 0n) return 0;
  const tenths = (toMinor(part.amount) * 1000n) / total;
  return Number(tenths) / 10;
}
