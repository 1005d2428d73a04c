//! [`Stored`]: the values kept for one connection, the app's ([`Connection::insert`]) and each
//! component's ([`Connection::with_local`]), in one short list: a connection holds a few at most,
//! and every idle connection holds the list.
//!
//! [`Connection::insert`]: crate::Connection::insert
//! [`Connection::with_local`]: crate::Connection::with_local

use std::any::{Any, TypeId};
use std::sync::{Mutex, MutexGuard};

/// Whose value: the app's, or one component instance's (its address).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Owner {
    App,
    Component(usize),
}

impl Owner {
    /// The component `component` (its address names it for as long as the app lives).
    pub(crate) fn component(component: &impl ?Sized) -> Self {
        Owner::Component(std::ptr::from_ref(component).cast::<()>() as usize)
    }
}

#[derive(Default)]
pub(crate) struct Stored(Mutex<Vec<Entry>>);

struct Entry {
    owner: Owner,
    value: Box<dyn Any + Send>,
}

impl Stored {
    /// Stores `value` as `owner`'s `T`, returning the one it replaces.
    pub(crate) fn insert<T: Send + 'static>(&self, owner: Owner, value: T) -> Option<T> {
        let mut entries = self.lock();
        match position::<T>(&entries, owner) {
            Some(index) => Some(std::mem::replace(downcast(&mut entries[index]), value)),
            None => {
                entries.push(Entry {
                    owner,
                    value: Box::new(value),
                });
                None
            }
        }
    }

    /// A copy of `owner`'s `T`.
    pub(crate) fn get<T: Clone + Send + 'static>(&self, owner: Owner) -> Option<T> {
        let mut entries = self.lock();
        let index = position::<T>(&entries, owner)?;
        Some(downcast::<T>(&mut entries[index]).clone())
    }

    /// Takes `owner`'s `T` away.
    pub(crate) fn remove<T: Send + 'static>(&self, owner: Owner) -> Option<T> {
        let mut entries = self.lock();
        let index = position::<T>(&entries, owner)?;
        let entry = entries.swap_remove(index);
        entry.value.downcast::<T>().ok().map(|value| *value)
    }

    /// Runs `f` on `owner`'s `T`, made with `Default` first if there is none.
    pub(crate) fn with<T: Default + Send + 'static, R>(
        &self,
        owner: Owner,
        f: impl FnOnce(&mut T) -> R,
    ) -> R {
        let mut entries = self.lock();
        let index = position::<T>(&entries, owner).unwrap_or_else(|| {
            entries.push(Entry {
                owner,
                value: Box::new(T::default()),
            });
            entries.len() - 1
        });
        f(downcast(&mut entries[index]))
    }

    fn lock(&self) -> MutexGuard<'_, Vec<Entry>> {
        crate::base::sync::lock(&self.0)
    }
}

fn position<T: 'static>(entries: &[Entry], owner: Owner) -> Option<usize> {
    entries
        .iter()
        .position(|entry| entry.owner == owner && (*entry.value).type_id() == TypeId::of::<T>())
}

fn downcast<T: 'static>(entry: &mut Entry) -> &mut T {
    entry
        .value
        .downcast_mut::<T>()
        .expect("an entry found by its type has that type")
}

#[cfg(test)]
mod tests {
    use super::{Owner, Stored};

    #[test]
    fn owners_and_types_keep_values_apart() {
        let stored = Stored::default();
        let (first, second) = (1u8, 2u8);
        assert_eq!(stored.insert(Owner::App, 5u32), None);
        assert_eq!(stored.insert(Owner::App, 6u32), Some(5));
        stored.with(Owner::component(&first), |count: &mut u32| *count += 1);
        stored.with(Owner::component(&second), |count: &mut u32| *count += 10);
        stored.with(Owner::component(&first), |count: &mut u32| *count += 1);
        assert_eq!(stored.get::<u32>(Owner::App), Some(6));
        assert_eq!(
            stored.with(Owner::component(&first), |count: &mut u32| *count),
            2
        );
        assert_eq!(
            stored.with(Owner::component(&second), |count: &mut u32| *count),
            10
        );
        assert_eq!(stored.get::<u64>(Owner::App), None);
        assert_eq!(stored.remove::<u32>(Owner::App), Some(6));
        assert_eq!(stored.get::<u32>(Owner::App), None);
    }
}
