//! Services given to [`App::provide`](crate::App::provide), bound by `#[dep] x: Arc<T>`.

use crate::base::error::WsError;
use crate::call::context::MessageContext;
use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::sync::Arc;

/// The app's services, by type.
///
/// ```
/// use gateway::prelude::*;
/// use std::sync::Arc;
///
/// struct Db;
/// struct Store;
///
/// #[controller("")]
/// impl Store {
///     #[websocket("save")]
///     async fn save(&self, #[dep] db: Arc<Db>, conn: Connection) {
///         let same: Option<Arc<Db>> = conn.services().get::<Db>();
///         assert!(same.is_some_and(|same| Arc::ptr_eq(&same, &db)));
///     }
/// }
///
/// let app = App::new().provide(Db).controller(Store);
/// ```
#[derive(Default)]
pub struct Services {
    by_type: HashMap<TypeId, Arc<dyn Any + Send + Sync>>,
}

impl std::fmt::Debug for Services {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Services")
            .field("count", &self.by_type.len())
            .finish()
    }
}

impl Services {
    pub(crate) fn insert<T: Send + Sync + 'static>(&mut self, service: Arc<T>) {
        self.by_type.insert(TypeId::of::<T>(), service);
    }

    /// The service of type `T`, if one was provided.
    pub fn get<T: Send + Sync + 'static>(&self) -> Option<Arc<T>> {
        let service = self.by_type.get(&TypeId::of::<T>())?;
        Arc::clone(service).downcast::<T>().ok()
    }

    pub(crate) fn contains(&self, key: &DependencyKey) -> bool {
        self.by_type.contains_key(&key.type_id)
    }
}

/// A service an endpoint needs, checked when the app is built.
#[derive(Debug, Clone, Copy)]
pub struct DependencyKey {
    type_id: TypeId,
    /// The service's type name, for the build error.
    pub type_name: &'static str,
}

/// A type a `#[dep]` parameter can have: `Arc<T>` of a service given to `App::provide`.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be a `#[dep]` parameter",
    label = "`#[dep]` parameters are `Arc<T>`, where `T` was given to `App::provide`",
    note = "write the parameter as `#[dep] name: Arc<YourService>`"
)]
pub trait Dependency: Sized {
    /// Which service this is.
    fn key() -> DependencyKey;
    /// The service from the app's services.
    fn from_services(services: &Services) -> Option<Self>;

    /// `#[dep] x: Self`. The app build has already checked that every dependency was provided.
    ///
    /// # Errors
    /// A 500 [`WsError`] naming the service, should it be missing after all.
    fn bind(ctx: &MessageContext) -> Result<Self, WsError> {
        Self::from_services(ctx.connection().services()).ok_or_else(|| {
            WsError::internal(format!(
                "no `{}` was provided to the app",
                Self::key().type_name
            ))
        })
    }
}

impl<T: Send + Sync + 'static> Dependency for Arc<T> {
    fn key() -> DependencyKey {
        DependencyKey {
            type_id: TypeId::of::<T>(),
            type_name: std::any::type_name::<T>(),
        }
    }

    fn from_services(services: &Services) -> Option<Self> {
        services.get::<T>()
    }
}
