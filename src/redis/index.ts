export type { RedisClientLike } from './connection.js';
export {
  createRedisHealthStore,
  type RedisHealthStore,
  type RedisHealthStoreOptions,
} from './redis-health-store.js';
