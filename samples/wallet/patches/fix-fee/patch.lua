-- Replaces the transfer fee: 0.5%, rounded up to a cent, at least 0.10,
-- at most 5.00. `original` is the shipped implementation (unused here).
function compute_fee(original, cents, currency)
  local fee = (cents * 5 + 999) // 1000
  if fee < 10 then fee = 10 end
  if fee > 500 then fee = 500 end
  return fee
end
