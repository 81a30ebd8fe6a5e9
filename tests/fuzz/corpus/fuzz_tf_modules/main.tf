module "a" {
  source = "../../modules/a"
}
module b {
  source = "./b" # c
}
locals {
  x = <<-EOT
  module "h" { source = "./h" }
  EOT
  s = "${join("}", ["{"])}"
}
/* module "c" { source = "./c" } */
