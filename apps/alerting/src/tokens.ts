/** The consumer group alerting commits its aggregate offsets under (ALERTING_GROUP_ID). */
export const ALERTING_GROUP_ID = Symbol('ALERTING_GROUP_ID');
