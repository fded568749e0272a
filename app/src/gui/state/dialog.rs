//! File dialogs (open and save a preset, the image data's folder, the teacher file), each
//! blocking on a thread of its own; the answer comes back as an `Action`.

use eframe::egui;

use crate::gui::action::Action;

/// A file dialog open on its own thread, and where its answer arrives.
pub struct Dialog {
    /// The answer, as an action.
    pub answer: crossbeam_channel::Receiver<Action>,
    /// The thread, joined once it has answered (or when the app exits).
    pub thread: Option<std::thread::JoinHandle<()>>,
}

impl Dialog {
    /// Waits for the dialog's thread (at once when it has answered; at exit, until the user
    /// closes the dialog).
    pub fn join(&mut self) {
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Runs a blocking file dialog on its own thread; its answer arrives as an action.
pub fn dialog(
    ctx: &egui::Context,
    ask: impl FnOnce() -> Option<Action> + Send + 'static,
) -> Dialog {
    let (tx, rx) = crossbeam_channel::bounded(1);
    let ctx = ctx.clone();
    let spawned = std::thread::Builder::new()
        .name("sim-file-dialog".into())
        .spawn(move || {
            if let Some(action) = ask() {
                let _ = tx.send(action);
            }
            ctx.request_repaint();
        });
    if spawned.is_err() {
        tracing::warn!("could not start the file-dialog thread");
    }
    Dialog {
        answer: rx,
        thread: spawned.ok(),
    }
}
