// Review form: "Use selection" copies the text selected inside a passage into its quote box.
document.querySelectorAll(".passage").forEach((passage) => {
  const button = passage.querySelector(".use-selection");
  const quote = passage.querySelector("textarea.quote");
  const text = passage.querySelector("pre.chunk");
  if (!button || !quote || !text) return;
  button.addEventListener("click", () => {
    const selection = window.getSelection();
    if (selection && selection.rangeCount && text.contains(selection.anchorNode)) {
      quote.value = selection.toString();
    }
  });
});
