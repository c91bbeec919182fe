;;; deecho.el --- Run deecho on the current file  -*- lexical-binding: t; -*-

;; M-x deecho-process  remove echo; writes NAME.no_echo.wav beside the file
;;                     (with C-u, asks for extra `deecho process' flags)
;; M-x deecho-tui      open the file in the deecho workspace in a terminal buffer
;; Works from a buffer visiting the file or from Dired (the file at point).

;;; Code:

(require 'term)
(declare-function dired-get-filename "dired" (&optional localp no-error-if-not-filep))

(defgroup deecho nil
  "Remove echo and reverb from recordings with deecho."
  :group 'multimedia)

(defcustom deecho-command "deecho"
  "The deecho program: a name on `exec-path' or a full path."
  :type 'string)

(defun deecho--current-file ()
  "The file to work on: the visited file, or the file at point in Dired."
  (expand-file-name
   (or (buffer-file-name)
       (and (derived-mode-p 'dired-mode) (dired-get-filename nil t))
       (user-error "deecho: this buffer visits no file"))))

(defun deecho-process (&optional extra-args)
  "Remove echo from the current file with `deecho process'.
EXTRA-ARGS are more command-line flags, asked for with a prefix argument."
  (interactive
   (list (when current-prefix-arg
           (split-string-and-unquote (read-string "Extra deecho flags: ")))))
  (let* ((file (deecho--current-file))
         (buffer (get-buffer-create "*deecho*")))
    (with-current-buffer buffer (erase-buffer))
    (message "deecho: working on %s..." (file-name-nondirectory file))
    ;; a process, not a shell command: the path needs no quoting; a pipe, not a
    ;; terminal, or deecho draws progress bars into the buffer
    (make-process
     :name "deecho"
     :buffer buffer
     :connection-type 'pipe
     :command (append (list deecho-command "process" file) extra-args)
     :sentinel
     (lambda (process _event)
       (when (memq (process-status process) '(exit signal))
         ;; stdout's last line is the output path; on failure, stderr's says why
         (let ((last-line (with-current-buffer (process-buffer process)
                            (or (car (last (split-string (buffer-string) "\n" t "[ \t\r]+")))
                                "no output"))))
           (if (zerop (process-exit-status process))
               (message "deecho wrote %s" last-line)
             (message "deecho failed (exit %d): %s"
                      (process-exit-status process) last-line))))))))

(defun deecho-tui ()
  "Open the current file in the deecho workspace, in a terminal buffer."
  (interactive)
  (let ((file (deecho--current-file)))
    (switch-to-buffer (make-term "deecho-tui" deecho-command nil "tui" file))
    (term-char-mode)))

(provide 'deecho)
;;; deecho.el ends here
