// A list kept in localStorage across reloads (uploads a reload
// interrupted), forgotten when it empties; nothing when storage is denied.
export function pendingList<T>(key: string) {
  return {
    read(): T[] {
      try {
        return JSON.parse(localStorage.getItem(key) ?? "[]") as T[];
      } catch {
        return [];
      }
    },
    write(list: T[]) {
      try {
        if (list.length) localStorage.setItem(key, JSON.stringify(list));
        else localStorage.removeItem(key);
      } catch {
        // storage denied: nothing to remember with
      }
    },
  };
}
