// Parses `--args "a,b"`: comma-separated like a CSV field, so an argument
// holding a comma can be quoted ("a,\"b,c\"" gives a and b,c). Repeated
// flags add to the list.
export function parseArgsList(value: string, previous: string[] = []): string[] {
  const out: string[] = [];
  let cur = '';
  let quoted = false;
  for (let i = 0; i < value.length; i++) {
    const ch = value[i];
    if (quoted) {
      if (ch === '"' && value[i + 1] === '"') {
        cur += '"';
        i++;
      } else if (ch === '"') {
        quoted = false;
      } else {
        cur += ch;
      }
    } else if (ch === '"' && cur === '') {
      quoted = true;
    } else if (ch === ',') {
      out.push(cur);
      cur = '';
    } else {
      cur += ch;
    }
  }
  out.push(cur);
  return [...previous, ...out];
}
