import { builder } from './builder.js';
import './presence.js';
import './friends.js';
import './subscriptions.js';
import './status-message.js';
import './privacy.js';
import './devices.js';

/** The executable schema; its printed SDL (schema/schema.graphql) is the contract. */
export const schema = builder.toSchema({ sortSchema: true });
