/**
 * RFC 9457 problem details: every error the API returns is `application/problem+json` with a status, a title, a
 * human-readable detail and, for a bad request, the field that was wrong (`field`, a JSON pointer into the request
 * such as `/query/limit` or `/body/args`). Route code throws a Problem; the server's error handler renders it, and
 * turns schema failures into the same shape.
 */
export interface ProblemBody {
  type: string;
  title: string;
  status: number;
  detail: string;
  instance?: string;
  /** The request field that was wrong, as a JSON pointer (`/body/name`). */
  field?: string;
  /** Every field that was wrong, when there were several. */
  errors?: { field: string; detail: string }[];
}

const TITLES: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  409: 'Conflict',
  413: 'Content Too Large',
  415: 'Unsupported Media Type',
  422: 'Unprocessable Content',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
};

export class Problem extends Error {
  readonly status: number;
  readonly field: string | undefined;
  readonly errors: { field: string; detail: string }[] | undefined;
  /** Extra response headers (WWW-Authenticate on a 401). */
  readonly headers: Record<string, string>;

  constructor(status: number, detail: string, options: { field?: string; errors?: { field: string; detail: string }[]; headers?: Record<string, string> } = {}) {
    super(detail);
    this.name = 'Problem';
    this.status = status;
    this.field = options.field;
    this.errors = options.errors;
    this.headers = options.headers ?? {};
  }

  body(instance?: string): ProblemBody {
    return {
      type: 'about:blank',
      title: TITLES[this.status] ?? 'Error',
      status: this.status,
      detail: this.message,
      ...(instance ? { instance } : {}),
      ...(this.field ? { field: this.field } : {}),
      ...(this.errors ? { errors: this.errors } : {}),
    };
  }
}

export const PROBLEM_CONTENT_TYPE = 'application/problem+json';
