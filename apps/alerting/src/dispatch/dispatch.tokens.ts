export const DISPATCH_OPTIONS = Symbol('DISPATCH_OPTIONS');
export interface DispatchHttpOptions {
  slackSigningSecret?: string;
}
