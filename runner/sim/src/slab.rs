//! Index-addressed storage with free-list reuse and generation counters, so a handle kept
//! in a scheduled event can tell that its slot has since been freed (and maybe reused).

#[derive(Debug)]
struct Slot<T> {
    generation: u32,
    live: bool,
    value: T,
}

#[derive(Debug)]
pub struct Slab<T> {
    slots: Vec<Slot<T>>,
    free: Vec<u32>,
    live: usize,
}

impl<T> Default for Slab<T> {
    fn default() -> Self {
        Slab {
            slots: Vec::new(),
            free: Vec::new(),
            live: 0,
        }
    }
}

impl<T> Slab<T> {
    /// Stores `value`; returns its index and generation.
    pub fn insert(&mut self, value: T) -> (u32, u32) {
        self.live += 1;
        if let Some(i) = self.free.pop() {
            let s = &mut self.slots[i as usize];
            s.live = true;
            s.value = value;
            (i, s.generation)
        } else {
            self.slots.push(Slot {
                generation: 0,
                live: true,
                value,
            });
            ((self.slots.len() - 1) as u32, 0)
        }
    }

    /// Frees slot `i`; handles to it go stale.
    pub fn remove(&mut self, i: u32) {
        if let Some(s) = self.slots.get_mut(i as usize)
            && s.live
        {
            s.live = false;
            s.generation = s.generation.wrapping_add(1);
            self.free.push(i);
            self.live -= 1;
        }
    }

    pub fn is_current(&self, i: u32, generation: u32) -> bool {
        self.slots
            .get(i as usize)
            .is_some_and(|s| s.live && s.generation == generation)
    }

    pub fn generation_of(&self, i: u32) -> u32 {
        self.slots
            .get(i as usize)
            .map_or(u32::MAX, |s| s.generation)
    }

    /// The value in slot `i`, live or not (callers check liveness with [`Slab::is_current`]).
    #[inline]
    pub fn get(&self, i: u32) -> &T {
        &self.slots[i as usize].value
    }

    #[inline]
    pub fn get_mut(&mut self, i: u32) -> &mut T {
        &mut self.slots[i as usize].value
    }

    pub fn len(&self) -> usize {
        self.live
    }

    /// Live slots in index order.
    pub fn live_indices(&self) -> impl Iterator<Item = u32> + '_ {
        self.slots
            .iter()
            .enumerate()
            .filter(|(_, s)| s.live)
            .map(|(i, _)| i as u32)
    }
}
