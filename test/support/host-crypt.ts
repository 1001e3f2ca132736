// The host's own crypt(3), as login checks a password against /etc/shadow:
// through perl, which calls it. Tests compare with it rather than with the
// project's hash, which would agree with itself whatever it got wrong.
import { execFileSync } from 'node:child_process';

/** crypt(3) of `password` with `setting` (`$6$salt$`, or a whole stored hash). */
export function hostCrypt(password: string, setting: string): string {
  return execFileSync(
    'perl',
    ['-e', 'local $/; my $pw = <STDIN>; print crypt($pw, $ARGV[0])', setting],
    { input: password },
  ).toString();
}
