terraform {
  # terraform_data arrived in 1.4; the state stays in a local file next to this directory.
  required_version = ">= 1.4"
}
