import type { ParsedExpr } from './ast';

export function parseExpr(_source: string): ParsedExpr {
  throw new Error('not implemented yet');
}
