/**
 * Passwords out of URLs, for messages and log lines that show one: `amqp://admin:***@rabbit//`. It sits below
 * every other module so that errors/ can use it (ConfigurationError masks the value it names) without importing
 * an adapter.
 */

/**
 * The text with the password of every URL in it (each address of a `;`-separated Sentinel list, the master's
 * and `sentinel_password`, any `password=` option) replaced by `***`. URLs are found anywhere in the text, not
 * only at its start, so a value with leading blanks or in quotes is masked too.
 */
export function maskPassword(url: string): string {
  return url
    // Up to the last `@` of the address: a password may itself hold an unencoded `@` or `/`.
    .replace(/([a-z][a-z0-9+.-]*:\/\/[^:@/;\s]*:)[^;]*@/gi, '$1***@')
    .replace(/([?&](?:sentinel_)?password=)[^&;]*/gi, '$1***');
}
