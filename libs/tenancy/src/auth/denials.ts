/** Why the AuthGuard refused a request (a short code; never what was presented). */
export type DenialReason = 'no_credential' | 'bad_credential' | 'undeclared_route' | 'role_too_weak' | 'scope_missing' | 'other_tenant';

/**
 * Where refusals go: the audit trail (AuditTrail.denied, which bounds what a flood can write),
 * provided under this token.
 */
export const AUTH_DENIALS = Symbol('AUTH_DENIALS');
export interface DenialRecorder {
  denied(req: { method: string; url: string; ip?: string }, reason: DenialReason, extra?: { tenant?: string; actor?: string }): void;
}
