// The waiting page: asks again until an administrator has approved the account.
import { session } from "./api.js";
import { showError } from "./shell.js";

const error = document.querySelector(".error");

async function check() {
  try {
    const user = await session();
    error.hidden = true;
    if (user.role !== "pending") window.location.assign("/");
  } catch (failure) {
    if (failure.status === 401) window.location.replace("/auth");
    else showError(error, failure);
  }
}

document.getElementById("check-again").addEventListener("click", check);
setInterval(check, 5000);
