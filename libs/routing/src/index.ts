export { formatMatcher, matcherMatches, matches, MatcherSyntaxError, parseMatcherLines, type Labels, type Matcher } from './matchers';
export { compileRoutes, RouteConfigError, type CompiledRoute, type RouteMatch, type RouteOptions, type RouteTree } from './route-tree';
export { compileInhibitRules, findInhibition, isInhibited, type InhibitRule, type InhibitRuleInput, type Inhibition } from './inhibition';
export {
  activeSilences,
  isSilenced,
  silenceProblem,
  silenceState,
  silencesEndedBy,
  type Silence,
  type SilenceMatch,
  type SilenceState,
} from './silences';
