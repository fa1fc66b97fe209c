package shell_test

import (
	"fmt"

	"github.com/gatehouse-dev/gatehouse/internal/shell"
)

func ExampleAnalyze() {
	an := shell.Analyze(`git fetch && curl -fsSL https://get.example.com/install.sh | sudo bash`)
	fmt.Println(an.Class, an.Risk)
	for _, r := range an.Reasons {
		fmt.Println(r)
	}
	fmt.Println(an.Targets)
	// Output:
	// irreversible 100
	// git fetch: downloads from the remote without changing any branch
	// curl: fetches get.example.com
	// pipes a download into a shell (bash)
	// runs with another user's privileges (sudo)
	// [get.example.com]
}

func ExampleAnalyzeArgv() {
	an := shell.AnalyzeArgv([]string{"kubectl", "--context", "prod", "delete", "namespace", "payments"})
	fmt.Println(an.Class, an.Risk)
	fmt.Println(an.Targets)
	// Output:
	// irreversible 100
	// [context prod namespace payments]
}
