//! The Redis backplane (feature `redis`): an adapter that carries a hub's traffic between the
//! instances of a service through one Redis.

#[cfg(feature = "redis")]
mod redis;

#[cfg(feature = "redis")]
pub use self::redis::{RedisBackplane, RedisBackplaneBuilder, RedisError};
