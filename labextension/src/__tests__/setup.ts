// jsdom has no DragEvent, which @lumino/dragdrop (imported by @lumino/widgets) subclasses.
if (typeof MouseEvent !== 'undefined' && typeof (globalThis as any).DragEvent === 'undefined') {
  (globalThis as any).DragEvent = class DragEvent extends MouseEvent {};
}
