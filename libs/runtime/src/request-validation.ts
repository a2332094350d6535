import { BadRequestException } from '@nestjs/common';
import type { z } from 'zod';

/** Parses a request body; on failure answers 400 with every problem's field path and reason. */
export function parseBody<S extends z.ZodTypeAny>(schema: S, body: unknown): z.infer<S> {
  const result = schema.safeParse(body);
  if (!result.success) {
    throw new BadRequestException({
      error: 'invalid_request',
      issues: result.error.issues.map((i) => ({ path: i.path.length ? i.path.join('.') : '(root)', message: i.message })),
    });
  }
  return result.data;
}
